import json

from generation.embedded import train
from generation.embedded.pipeline import AtelierPipeline


def test_tiny_training_runs_and_writes_a_loadable_pipeline(tmp_path):
    out = tmp_path / "weights"
    stats = train.run({"tiny": True, "steps": 3, "out": out, "data_dir": tmp_path / "data",
                       "ckpt_dir": tmp_path / "ckpt", "object_weight": 4.0}, log=lambda *_: None)
    assert stats["steps"] == 3
    assert stats["config"]["object_weight"] == 4.0
    assert (out / "unet" / "diffusion_pytorch_model.safetensors").exists()
    assert json.loads((out / "model_index.json").read_text())["_class_name"] == "AtelierPipeline"
    assert "## Training" in (out / "MODEL_CARD.md").read_text()
    pipe = AtelierPipeline.from_pretrained(str(out))
    pipe.set_progress_bar_config(disable=True)
    assert pipe("a red circle", num_inference_steps=2).images[0].size == (64, 64)


def test_resume_continues_from_the_checkpoint(tmp_path):
    options = {"tiny": True, "steps": 2, "out": tmp_path / "w", "data_dir": tmp_path / "data",
               "ckpt_dir": tmp_path / "ckpt"}
    cfg = train.config_from_options(options)
    cfg.checkpoint_minutes = 1e-9  # checkpoint at every step
    train.train(cfg, out_dir=tmp_path / "w", data_dir=tmp_path / "data", ckpt_dir=tmp_path / "ckpt", log=lambda *_: None)
    cfg.steps = 4
    stats = train.train(cfg, out_dir=tmp_path / "w", data_dir=tmp_path / "data", ckpt_dir=tmp_path / "ckpt",
                        resume=True, log=lambda *_: None)
    assert stats["steps"] == 4


def test_model_card_reproduce_commands_name_the_variant_trained(tmp_path):
    from generation.embedded import model_card

    (tmp_path / "training.json").write_text(json.dumps({"config": {"device": "cuda", "variant": "broad"}}))
    gpu = model_card.write(tmp_path).read_text()
    assert "(UNet variant `broad`" in gpu
    assert "`python manage.py train_embedded --variant broad --object-weight 1 --weight-floor 0` trains the same recipe" in gpu
    (tmp_path / "training.json").write_text(json.dumps({"config": {"device": "cpu"}}))  # before variants existed
    assert "`python manage.py train_embedded --variant base --object-weight 1 --weight-floor 0`" in model_card.write(tmp_path).read_text()


def test_data_set_keeps_each_scene_object_mask(tmp_path):
    import numpy as np

    from generation.embedded import data
    from generation.embedded.renderer import render_scene_with_masks

    data.build_dataset(tmp_path, num_images=6, captions_per_image=1, seed=3, max_tokens=64, workers=1,
                       log=lambda *_: None)
    images, masks = np.load(tmp_path / "images.npy"), np.load(tmp_path / "masks.npy")
    specs, seeds, _ = data.scene_plan(6, 1, 3)
    for k in (0, 5):
        image, labels = render_scene_with_masks(specs[k], seeds[k])
        assert (images[k] == np.asarray(image)).all()
        assert (masks[k] == (labels > 0)).all()
    assert 0 < masks.mean() < 0.5  # objects drawn, on a background


def test_pixel_weights_favour_objects_and_their_outline():
    import torch

    objects = torch.zeros(2, 64, 64, dtype=torch.uint8)
    objects[0, 20:30, 20:30] = 1  # image 1 has no object: all weights 1
    weights = train.pixel_weights(objects, 4.0)
    assert weights.shape == (2, 1, 64, 64)
    assert torch.allclose(weights.mean((1, 2, 3)), torch.ones(2))
    w = weights[0, 0]
    assert w[25, 25] == w[18, 25] == w[31, 25]  # the 2 px ring outside the shape counts as the object
    assert torch.isclose(w[25, 25] / w[0, 0], torch.tensor(4.0))
    assert w[17, 25] == w[0, 0]
    assert torch.equal(weights[1], torch.ones(1, 64, 64))
    assert torch.equal(train.pixel_weights(objects, 1.0), torch.ones(2, 1, 64, 64))


def test_object_weight_must_be_positive():
    import pytest

    with pytest.raises(SystemExit, match="--object-weight must be positive"):
        train.config_from_options({"tiny": True, "object_weight": 0})


def test_weight_floor_lifts_only_the_ends_of_the_schedule():
    import torch

    from generation.embedded import model

    alphas = model.build_noise_scheduler().alphas_cumprod
    snr = alphas / (1 - alphas)
    plain, floored = train.loss_weights(snr, 5.0), train.loss_weights(snr, 5.0, 0.2)
    assert plain[999] < 1e-6 and floored[999] == 0.2  # pure noise: the sampler's first step
    assert plain[0] < 0.01 and floored[0] == 0.2  # the last touch of detail
    assert torch.equal(plain[150:701], floored[150:701])  # Min-SNR weighs the middle above the floor
    assert (floored >= plain).all() and (floored >= 0.2).all()
    assert plain[700:].sum() / plain.sum() < 0.1 < floored[700:].sum() / floored.sum()


def test_weight_floor_outside_0_1_is_refused():
    import pytest

    for bad in (-0.1, 1.5):
        with pytest.raises(SystemExit, match="--weight-floor must be between 0 and 1"):
            train.config_from_options({"tiny": True, "weight_floor": bad})
    assert train.config_from_options({"tiny": True, "weight_floor": 0.2}).weight_floor == 0.2


def test_model_card_says_how_the_loss_weighed_pixels(tmp_path):
    from generation.embedded import model_card

    (tmp_path / "training.json").write_text(json.dumps({"config": {"device": "cpu", "object_weight": 4.0}}))
    card = model_card.write(tmp_path).read_text()
    assert "- Loss: object pixels (and a 2 px ring around each object) weighed 4x" in card
    assert "`python manage.py train_embedded --variant base --object-weight 4 --weight-floor 0`" in card
    (tmp_path / "training.json").write_text(json.dumps({"config": {"device": "cpu"}}))  # before the option
    assert "- Loss: every pixel weighed alike." in model_card.write(tmp_path).read_text()
    (tmp_path / "training.json").write_text(json.dumps({"config": {"device": "cpu", "weight_floor": 0.2}}))
    card = model_card.write(tmp_path).read_text()
    assert "Min-SNR-? weighting floored at 0.2" in card
    assert "--object-weight 1 --weight-floor 0.2`" in card


def test_model_card_lists_the_kinds_drawn_worst_last(tmp_path):
    from generation.embedded import model_card

    (tmp_path / "training.json").write_text(json.dumps({"config": {"device": "cpu"}}))
    (tmp_path / "evaluation.json").write_text(json.dumps({
        "images": 4, "steps": 25, "guidance": 4.0, "analyzer_accuracy": 0.99, "tasks": [],
        "shape_confusion": {"star": {"n": 4, "right": 1, "read_as": {"sun": 3}},
                            "heart": {"n": 4, "right": 4, "read_as": {}}}}))
    card = model_card.write(tmp_path).read_text()
    assert "per kind asked for (drawn right / asked; not scored): heart 4/4; star 1/4." in card
