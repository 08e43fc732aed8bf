"""The GPU-training path, run on the CPU: the slim MiniLM that travels to a GPU machine
encodes like the package, and weights trained with it come back in parts and load."""

import numpy as np
import pytest
import torch

from generation.embedded import data, device_bundle, model, train
from generation.embedded.pipeline import AtelierPipeline


@pytest.fixture(scope="module")
def slim(tmp_path_factory):
    out = tmp_path_factory.mktemp("slim")
    info = data.export_slim_encoder(out, data.scene_plan(200, 2, 0)[2])
    return out, info


def test_slim_encoder_encodes_like_the_package(slim):
    out, info = slim
    assert 200 < info["kept_ids"] < 2000
    assert info["bytes"] < 30e6  # the package's MiniLM is about 90 MB
    texts = data.scene_plan(200, 2, 0)[2][:40]
    full = data.encode_texts(*data.load_text_encoder(), texts, 64)
    small = data.encode_texts(*data.load_text_encoder(out), texts, 64)
    assert torch.equal(full[1], small[1])
    real = full[1].bool()
    cos = torch.nn.functional.cosine_similarity(full[0][real], small[0][real], dim=-1)
    assert cos.min() > 0.9999
    assert (full[0][real] - small[0][real]).abs().max() < 0.02


def test_slim_encoder_reads_words_it_never_kept_as_unknown(slim):
    out, _ = slim
    tokenizer, encoder = data.load_text_encoder(out)
    assert not encoder.atelier_known_ids[tokenizer.convert_tokens_to_ids("piano")]
    states, _ = data.encode_texts(tokenizer, encoder, ["a red piano", "a red [UNK]"], 64)
    assert torch.allclose(states[0], states[1], atol=1e-4)


def test_weights_trained_with_the_slim_encoder_come_back_in_parts_and_load(slim, tmp_path):
    out, _ = slim
    trained = tmp_path / "trained"
    stats = train.run({"tiny": True, "steps": 2, "encoder": out, "device": "cpu", "out": trained,
                       "data_dir": tmp_path / "data", "ckpt_dir": tmp_path / "ckpt"}, log=lambda *_: None)
    assert stats["config"]["encoder"] == str(out)
    assert "no GPU" in stats["hardware"]

    returned = tmp_path / "returned"
    parts = device_bundle.pack(trained, returned, "base", part_bytes=200_000)
    assert len(parts) > 1 and all(f.stat().st_size <= 200_000 for f in parts)

    joined = device_bundle.unpack(returned, tmp_path / "joined", "base")
    images = []
    for folder in (trained, joined):
        pipe = AtelierPipeline.from_pretrained(str(folder))
        pipe.set_progress_bar_config(disable=True)
        images.append(np.asarray(pipe("a red circle", num_inference_steps=2,
                                      generator=torch.Generator().manual_seed(5)).images[0]))
    assert np.array_equal(images[0], images[1])


def test_unpack_without_parts_or_weights_is_refused(tmp_path):
    with pytest.raises(SystemExit, match="no base.tar.part"):
        device_bundle.unpack(tmp_path, tmp_path / "w", "base")
    failed = tmp_path / "failed-run"
    failed.mkdir()
    (failed / "train.log").write_text("RuntimeError: CUDA out of memory\n")
    device_bundle.pack(failed, tmp_path / "returned", "wide")
    with pytest.raises(SystemExit, match="CUDA out of memory"):
        device_bundle.unpack(tmp_path / "returned", tmp_path / "w", "wide")


def test_unknown_variant_is_refused():
    with pytest.raises(ValueError, match="known: base, wide, broad, p2"):
        model.unet_config(variant="huge")


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a GPU")
def test_cuda_without_a_gpu_is_refused_before_anything_is_written(tmp_path):
    with pytest.raises(SystemExit, match="no CUDA device"):
        train.run({"tiny": True, "steps": 1, "device": "cuda", "out": tmp_path / "w",
                   "data_dir": tmp_path / "data", "ckpt_dir": tmp_path / "ckpt"}, log=lambda *_: None)
    assert not any((tmp_path / name).exists() for name in ("w", "data", "ckpt"))


def test_eval_refuses_a_negative_control_count(capsys):
    import argparse

    from generation.embedded import evaluate

    parser = argparse.ArgumentParser()
    evaluate.add_arguments(parser)
    with pytest.raises(SystemExit):
        parser.parse_args(["--seen-control", "-3"])
    assert "must be 0 or more" in capsys.readouterr().err


@pytest.mark.parametrize("variant", sorted(model.VARIANTS))
def test_every_variant_trains_a_step_and_serves_every_size(variant):
    """An untrained UNet of each variant: a training step at 64x64, then the pipeline at every
    supported size and in inpainting, the way a run's weights would be served."""
    from PIL import Image

    torch.manual_seed(0)
    unet = model.build_unet(variant=variant)
    x, t = torch.randn(2, 3, 64, 64), torch.tensor([10, 900])
    states, mask = torch.randn(2, 5, model.TEXT_DIM), torch.ones(2, 5)
    pred = model.denoise(unet, x, t, states, mask)
    assert pred.shape == x.shape
    pred.pow(2).mean().backward()
    assert all(p.grad is not None for p in unet.parameters() if p.requires_grad)

    pipe = AtelierPipeline(unet=unet.eval(), scheduler=model.build_sampling_scheduler())
    pipe.set_progress_bar_config(disable=True)
    for w, h in ((64, 64), (96, 128), (128, 128)):
        image = pipe("a red circle", width=w, height=h, num_inference_steps=2,
                     generator=torch.Generator().manual_seed(1)).images[0]
        assert image.size == (w, h)
    mask_image = Image.new("L", (64, 64), 0)
    mask_image.paste(255, (0, 0, 32, 64))
    edit = pipe("a red circle", image=image.resize((64, 64)), mask_image=mask_image, num_inference_steps=2).images[0]
    assert np.array_equal(np.asarray(edit)[:, 40:], np.asarray(image.resize((64, 64)))[:, 40:])
