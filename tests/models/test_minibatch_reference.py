"""A discriminator with minibatch layers judges points against a reference batch (the GAN lab's
map of D over a grid) exactly as if each point were one more member of that batch."""

import torch

from workbench.models.registry import create_model
from workbench.data import load_dataset


def test_minibatch_discrimination_against_a_reference_batch_is_one_more_batch_member():
    torch.manual_seed(0)
    m = create_model("toy_gan", data=load_dataset("ring8").spec, mbd_kernels=4)
    D = m.D.eval()
    assert D.batch_dependent
    ref, pts = torch.randn(32, 2), torch.randn(5, 2)
    with torch.no_grad():
        judged = D(pts, reference=ref)
        one_by_one = torch.stack([D(torch.cat([ref, p[None]]))[-1] for p in pts])
    torch.testing.assert_close(judged, one_by_one)
    # a D without minibatch layers ignores the reference
    plain = create_model("toy_gan", data=load_dataset("ring8").spec).D.eval()
    assert not plain.batch_dependent
    with torch.no_grad():
        torch.testing.assert_close(plain(pts, reference=ref), plain(pts))


def test_the_lab_maps_d_with_minibatch_layers_in_linear_time():
    from workbench.experiments.lab import GanLab

    lab = GanLab("ring8", "toy_gan", {"mbd_kernels": 8, "minibatch_std": True}, seed=0)
    lab.step_both(2)
    snap = lab.snapshot(grid=128)  # 16384 points: O(N²) would need ~10 GB per kernel
    assert snap.d_map.shape == (128, 128) and torch.isfinite(torch.as_tensor(snap.d_map)).all()
