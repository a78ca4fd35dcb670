"""The recipes of the documentation pages run and do what their text says."""

from __future__ import annotations

import pytest

from _markdown import ROOT, code_block, run_block

DOCS = ROOT / "docs"


def torch_setup():  # type: ignore[no-untyped-def]
    """A small classification task in batches, and its loss."""
    torch = pytest.importorskip("torch")
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(1024, 16, generator=generator)
    y = x[:, :4].argmax(dim=1)
    loader = list(zip(x.split(32), y.split(32), strict=True))
    return torch, loader, torch.nn.functional.cross_entropy


def test_fine_tuning_recipe_gives_each_group_the_suggested_rate() -> None:
    torch, loader, loss_fn = torch_setup()

    class Model(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.backbone = torch.nn.Linear(16, 32)
            self.neck = torch.nn.Linear(32, 32)
            self.head = torch.nn.Linear(32, 4)

        def forward(self, x):  # type: ignore[no-untyped-def]
            return self.head(torch.relu(self.neck(torch.relu(self.backbone(x)))))

    torch.manual_seed(0)
    model = Model()
    frozen = [p.detach().clone() for p in model.backbone.parameters()]
    import lrfinder.torch

    code = code_block(DOCS / "pytorch-training.md", "group_lrs")
    scope = run_block(
        code,
        "fine-tuning",
        torch=torch,
        lrfinder=lrfinder,
        model=model,
        loader=loader,
        loss_fn=loss_fn,
    )
    suggestion = scope["result"].suggestion  # type: ignore[attr-defined]
    # The recipe's rates are the suggestion itself and 10x it, not the grid step below it.
    assert scope["neck_lr"] == pytest.approx(suggestion.lr, rel=1e-12)
    assert scope["head_lr"] == pytest.approx(10 * suggestion.lr, rel=1e-12)
    for before, p in zip(frozen, model.backbone.parameters(), strict=True):
        assert not p.requires_grad
        assert torch.equal(before, p)


def test_amp_recipe_runs_without_cuda() -> None:
    torch, loader, loss_fn = torch_setup()
    if torch.cuda.is_available():
        pytest.skip("checks the recipe on a machine without CUDA")
    import lrfinder.torch

    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(16, 32), torch.nn.ReLU(), torch.nn.Linear(32, 4))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
    code = code_block(DOCS / "pytorch-training.md", "GradScaler")
    # Warnings are errors here: a scaler built for "cuda" warns that it disables itself.
    scope = run_block(
        code,
        "mixed precision",
        torch=torch,
        lrfinder=lrfinder,
        model=model,
        optimizer=optimizer,
        loader=loader,
        loss_fn=loss_fn,
    )
    result = scope["result"]
    assert scope["scaler"].is_enabled()  # type: ignore[attr-defined]
    assert result.settings["grad_scaler"] is True  # type: ignore[attr-defined]
    assert result.settings["skipped_steps"] == []  # type: ignore[attr-defined]
    assert len(result.lrs) > 10  # type: ignore[attr-defined]


def test_plot_schedule_recipe_unpacks_figure_and_axes(curve, tmp_path, monkeypatch) -> None:
    pytest.importorskip("matplotlib")
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    import lrfinder

    monkeypatch.chdir(tmp_path)
    curve.save("lr_find.json")
    page = DOCS / "schedules.md"
    scope = run_block(code_block(page, "schedule_from(result"), "schedule_from", lrfinder=lrfinder)
    scope = run_block(code_block(page, "plot_schedule("), "plot_schedule", **scope)
    assert isinstance(scope["fig"], Figure)
    assert isinstance(scope["ax"], Axes)
    assert (tmp_path / "one_cycle.png").stat().st_size > 10_000
