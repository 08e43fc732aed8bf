import json

from generation.embedded import train
from generation.embedded.pipeline import AtelierPipeline


def test_tiny_training_runs_and_writes_a_loadable_pipeline(tmp_path):
    out = tmp_path / "weights"
    stats = train.run({"tiny": True, "steps": 3, "out": out, "data_dir": tmp_path / "data",
                       "ckpt_dir": tmp_path / "ckpt"}, log=lambda *_: None)
    assert stats["steps"] == 3
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
    assert "`python manage.py train_embedded --variant broad` trains the same recipe" in gpu
    (tmp_path / "training.json").write_text(json.dumps({"config": {"device": "cpu"}}))  # before variants existed
    assert "`python manage.py train_embedded --variant base`" in model_card.write(tmp_path).read_text()
