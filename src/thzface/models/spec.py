"""How a run's weights file becomes a model: a recipe's config sections and its deployable-model builder."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from torch import nn

from thzface.config import AugConfig, Config, DataConfig, TrainConfig, config_from_sections


@dataclass(frozen=True)
class ModelSpec:
    """How a run's weights file becomes a model: the recipe's config sections and its model builder."""

    name: str  # recipe name written into the weights' metadata ("mtl", "distill", ...)
    model_config: type  # dataclass of the config's ``model:`` section; its defaults == configs/<name>-default.yaml
    loss_config: type  # dataclass of the config's ``loss:`` section
    build_model: Callable[[Config], nn.Module]  # the deployable model (what model.safetensors holds)
    data_config: type = DataConfig  # the recipe's ``data:`` defaults (a DataConfig subclass where they differ)
    aug_config: type = AugConfig  # the recipe's ``aug:`` defaults
    train_config: type = TrainConfig  # the recipe's ``train:`` defaults
    init_from: tuple[str, ...] = ()  # other recipes whose weights may initialise this one (``--init-from``)

    def config(self, data: dict, where: str = "config") -> Config:
        """Plain dict → validated :class:`Config` with this recipe's sections; missing keys take its defaults."""
        sections = {"data": self.data_config, "aug": self.aug_config, "train": self.train_config}
        return config_from_sections(data, {**sections, "model": self.model_config, "loss": self.loss_config}, where)

    def default_config(self) -> Config:
        """The recipe's dataclass defaults: equal to ``configs/<name>-default.yaml`` (a test checks it)."""
        return self.config({"recipe": self.name, "preset": "default"})
