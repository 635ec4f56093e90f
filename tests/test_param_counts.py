"""Parameter counts of the paper's table (appendix 7.4.1) and the network contract."""

import pytest
import torch
from torch import nn

from lgm.models.networks import (
    PAPER_TABLE,
    TABLE_ZC,
    Gated,
    build_decoder,
    build_encoder,
    count_parameters,
    model_parameters,
    parameter_table,
    reset_latent_layers,
)

ROW_KEYS = {
    "method", "arch", "zd_initial", "zd_final", "zc", "params_initial", "params_final",
    "paper_initial", "paper_final", "counts",
}


def P(arch: str, zd: int, batchnorm: bool = True) -> int:
    """One encoder + decoder pair at the table's z_c."""
    return model_parameters(arch, TABLE_ZC, zd, batchnorm=batchnorm)


@pytest.fixture(scope="module")
def table() -> list[dict]:
    return parameter_table()


def _row(table: list[dict], method: str, arch: str, index: int = 0) -> dict:
    return [r for r in table if r["method"] == method and r["arch"] == arch][index]


# --------------------------------------------------------------------------- the table
def test_table_has_one_row_per_paper_column(table):
    assert len(table) == len(PAPER_TABLE) == 10
    assert all(set(row) == ROW_KEYS for row in table)
    assert [(r["method"], r["arch"]) for r in table] == [(m, a) for m, a, *_ in PAPER_TABLE]
    assert all(r["zc"] == 7 for r in table)


@pytest.mark.parametrize("method, arch, which", [
    ("ewc", "dense", "initial"), ("ewc", "dense", "final"),
    ("ewc", "conv", "initial"), ("ewc", "conv", "final"),
    ("lifelong", "dense", "initial"),
    ("lifelong", "conv", "initial"), ("lifelong", "conv", "final"),
])
def test_exact_matches(table, method, arch, which):
    row = _row(table, method, arch)
    assert row[f"params_{which}"] == row[f"paper_{which}"]


def test_exact_values():
    assert 4 * P("dense", 10, batchnorm=False) == 4_353_184
    assert 4 * P("conv", 10, batchnorm=False) == 30_767_428
    assert P("dense", 2) + P("dense", 1) == 2_165_311
    assert P("conv", 2) + P("conv", 1) == 15_235_072
    assert P("conv", 10) + P("conv", 9) == 15_382_560
    # The paper's lifelong-D final figure is one fork earlier: student J=9 + teacher J=8.
    assert P("dense", 9) + P("dense", 8) == 2_179_661


def test_one_discrete_unit_costs():
    # dense: 513 (encoder row + bias) + 512 (decoder column); conv: both layers gated, so
    # 2 * 513 (1x1 projection) + 2 * 256 * 4 * 4 (first conv-transpose).
    assert P("dense", 10) - P("dense", 9) == 1_025
    assert P("conv", 10) - P("conv", 9) == 9_218


def test_documented_gaps(table):
    gaps = {  # (method, arch, index): (ours final, paper final)
        ("vanilla", "dense", 0): (1_091_368, 1_089_830),
        ("full", "dense", 0): (1_091_368, 1_089_830),
        ("full", "dense", 1): (2_182_736, 2_179_661),
        ("lifelong", "dense", 0): (2_181_711, 2_179_661),
        ("vanilla", "conv", 0): (7_695_889, 7_691_280),
        ("full", "conv", 0): (7_695_889, 7_691_280),
        ("full", "conv", 1): (15_391_778, 15_382_560),
    }
    for (method, arch, index), (ours, paper) in gaps.items():
        row = _row(table, method, arch, index)
        assert (row["params_final"], row["paper_final"]) == (ours, paper)
    # single-model columns: the paper prints half its student+teacher figure (rounded down)
    assert 1_089_830 == (P("dense", 9) + P("dense", 8)) // 2
    assert 7_691_280 * 2 == P("conv", 10) + P("conv", 9)
    assert 1_091_368 - 1_089_830 == 1_538 and 7_695_889 - 7_691_280 == 9_218 // 2
    # lifelong-D final: one discrete unit more in each of student and teacher
    assert 2_181_711 - 2_179_661 == 2 * 1_025
    # second "full" column: both models at J=10, the paper repeats the lifelong figure
    assert 2_182_736 - 2_179_661 == 3 * 1_025 and 15_391_778 - 15_382_560 == 9_218


def test_reading_layer_by_layer():
    # dense: 784-512-(24) encoder, (17)-512-512-784 decoder, three BN(512)
    dense = 401_920 + 12_312 + 8_704 + 512 + 262_656 + 402_192 + 3 * 1_024
    assert P("dense", 10) == dense
    enc = build_encoder("conv", (1, 28, 28), 24)
    assert isinstance(enc.latent_projection, Gated)
    assert count_parameters(enc.latent_projection) == 2 * (512 * 24 + 24)


def test_count_excludes_buffers():
    bn = nn.BatchNorm1d(512)
    assert count_parameters(bn) == 1_024
    assert count_parameters(build_encoder("dense", (1, 28, 28), 24, batchnorm=False)) == (
        count_parameters(build_encoder("dense", (1, 28, 28), 24)) - 1_024
    )


# --------------------------------------------------------------------------- the contract
@pytest.mark.parametrize("arch, shape, batchnorm", [
    ("dense", (1, 28, 28), True), ("dense", (3, 32, 32), True), ("dense", (1, 28, 28), False),
    ("conv", (1, 28, 28), True), ("conv", (3, 32, 32), True), ("conv", (1, 28, 28), False),
])
def test_output_shapes(arch, shape, batchnorm):
    torch.manual_seed(0)
    zc, zd = 7, 10
    enc = build_encoder(arch, shape, 2 * zc + zd, batchnorm=batchnorm, seeds=(0, 1))
    dec = build_decoder(arch, zc + zd, shape, batchnorm=batchnorm, seeds=(0, 1))
    x = torch.rand(2, 3, *shape)  # [S, B, C, H, W]
    h = enc(x)
    assert h.shape == (2, 3, 2 * zc + zd)
    logits = dec(torch.randn(2, 3, zc + zd))
    assert logits.shape == (2, 3, *shape)
    assert torch.isfinite(h).all() and torch.isfinite(logits).all()
    assert isinstance(enc.latent_projection, nn.Module)
    assert isinstance(dec.latent_input, nn.Module)


def test_bad_arguments():
    with pytest.raises(ValueError):
        build_encoder("mlp", (1, 28, 28), 24)
    with pytest.raises(ValueError):
        build_decoder("conv", 17, (28, 28))
    with pytest.raises(ValueError):
        build_encoder("dense", (1, 28, 28), 0)


@pytest.mark.parametrize("arch", ["dense", "conv"])
def test_reset_latent_layers_touches_only_latent_neighbours(arch):
    torch.manual_seed(0)
    enc = build_encoder(arch, (1, 28, 28), 24)
    dec = build_decoder(arch, 17, (1, 28, 28))
    before = {f"{tag}.{name}": t.clone()
              for tag, net in (("enc", enc), ("dec", dec))
              for name, t in net.state_dict().items()}
    reset_latent_layers(enc, dec, [torch.Generator().manual_seed(1)])
    after = {f"{tag}.{name}": t
             for tag, net in (("enc", enc), ("dec", dec))
             for name, t in net.state_dict().items()}
    latent = ("enc.latent_projection.", "dec.latent_input.")
    for name, old in before.items():
        new = after[name]
        if name.startswith(latent):
            assert not torch.equal(old, new), name
            if name.endswith("bias"):
                assert torch.count_nonzero(new) == 0, name
        else:
            assert torch.equal(old, new), name
    assert any(name.startswith(latent[0]) for name in before)
    assert any(name.startswith(latent[1]) for name in before)
