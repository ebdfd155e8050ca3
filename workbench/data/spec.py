"""What a model needs to know about its data, and the in-memory dataset the trainer consumes."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class DataSpec:
    """Shape of one example and the label count: all a model needs to size itself."""

    shape: tuple[int, ...]  # (C, H, W) for images, (2,) for 2-D points
    num_classes: int = 0  # 0 = unlabeled
    kind: str = "image"  # "image" (values in [0, 1]) | "points" (raw coordinates)

    @classmethod
    def mnist(cls) -> "DataSpec":
        return cls(shape=(1, 28, 28), num_classes=10, kind="image")

    @property
    def dim(self) -> int:
        n = 1
        for s in self.shape:
            n *= s
        return n

    def to_json(self) -> dict:
        return {"shape": list(self.shape), "num_classes": self.num_classes, "kind": self.kind}

    @classmethod
    def from_json(cls, d: dict) -> "DataSpec":
        return cls(shape=tuple(d["shape"]), num_classes=int(d.get("num_classes", 0)),
                   kind=d.get("kind", "image"))


@dataclass
class TensorData:
    """A dataset small enough to live as tensors (on the training device): no per-item loading.

    Images are float32 N×C×H×W in [0, 1]; labels int64 N (or None when unlabeled).
    """

    name: str
    spec: DataSpec
    x_train: "object"
    y_train: "object | None"
    x_val: "object"
    y_val: "object | None"
    source: dict = field(default_factory=dict)  # how to load it again (goes into run.json)
    class_names: tuple[str, ...] = ()

    @property
    def n_train(self) -> int:
        return int(self.x_train.shape[0])

    @property
    def n_val(self) -> int:
        return int(self.x_val.shape[0])

    def to(self, device) -> "TensorData":
        def mv(t):
            return None if t is None else t.to(device, non_blocking=True)
        return TensorData(self.name, self.spec, mv(self.x_train), mv(self.y_train),
                          mv(self.x_val), mv(self.y_val), dict(self.source), self.class_names)

    def describe(self) -> dict:
        return {"name": self.name, **self.source, "spec": self.spec.to_json(),
                "n_train": self.n_train, "n_val": self.n_val}
