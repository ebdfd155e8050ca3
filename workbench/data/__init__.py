"""Qt-free datasets: the embedded MNIST subset, toy 2-D sets, image folders and torchvision sets.
Importing this package registers the built-in sets (builtin.py, toy.py) with registry.py."""

from workbench.data import builtin, toy  # noqa: F401  (register mnist5k, ring8, grid25, spiral, …)
from workbench.data.registry import list_datasets, load_dataset, load_described  # noqa: F401
from workbench.data.spec import DataSpec, TensorData  # noqa: F401
