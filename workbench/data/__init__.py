"""Qt-free datasets: the embedded MNIST subset, toy 2-D sets, and (later) folders and torchvision."""

from workbench.data.builtin import list_datasets, load_dataset, load_described  # noqa: F401
from workbench.data.spec import DataSpec, TensorData  # noqa: F401
