"""The sampler an image's metadata names is the scheduler its pipeline really ran."""

from diffusers import (
    DDIMScheduler,
    DPMSolverMultistepScheduler,
    EulerAncestralDiscreteScheduler,
    FlowMatchEulerDiscreteScheduler,
)

from generation.backends import sampler_label
from generation.embedded import model


def test_the_embedded_models_sampler_is_dpm_plus_plus_2m():
    assert sampler_label(model.build_sampling_scheduler()) == "DPM++ 2M"


def test_scheduler_settings_change_the_name():
    assert sampler_label(DPMSolverMultistepScheduler(use_karras_sigmas=True)) == "DPM++ 2M Karras"
    assert sampler_label(DPMSolverMultistepScheduler(algorithm_type="sde-dpmsolver++")) == "DPM++ 2M SDE"
    assert sampler_label(DPMSolverMultistepScheduler(solver_order=3)) == "DPM++ 3M"


def test_common_schedulers_get_their_usual_names_and_others_their_class():
    assert sampler_label(DDIMScheduler()) == "DDIM"
    assert sampler_label(EulerAncestralDiscreteScheduler()) == "Euler a"
    assert sampler_label(FlowMatchEulerDiscreteScheduler()) == "FlowMatchEulerDiscreteScheduler"
