"""The training setups of the quality benchmark: small, varied, seconds each on one CPU core.

Each setup builds its data once (scikit-learn's bundled loaders, synthetic generators, or the text
of a file that ships with Python: nothing is downloaded) and, for a seed, a fresh model, the order
of its batches and an optimizer. ``split`` says whether the rule was chosen on it ("dev") or only
reported on it ("test"), or added after the rule was fixed, to check it on setups no rule was
chosen or tuned on ("external": plain MLPs with SGD+momentum and no normalisation, where the
default was seen to over-shoot outside the benchmark), or added after the rule's last change and
committed before any rule was run on them ("fresh": the unseen check the issue asks for), or
added before ``tune_lr`` was ever run ("race": the race's unseen check; new data, architectures,
optimizers, batch sizes and budgets, committed before any curve of theirs was read).
"""

from __future__ import annotations

import argparse
import calendar
import dataclasses
import difflib
import functools
import heapq
import itertools
import textwrap
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np
import torch
from sklearn import datasets
from torch import nn
from torch.nn import functional as F

Tensor = torch.Tensor
LossFn = Callable[[Tensor, Tensor], Tensor]

# The rate a user who does not tune would pass: the frameworks' usual defaults.
NO_TUNING_LR = {
    "sgd": 1e-2,
    "sgdm": 1e-2,
    "adam": 1e-3,
    "adamw": 1e-3,
    "rmsprop": 1e-2,
    "adagrad": 1e-2,
    "adamax": 2e-3,
    "nadam": 2e-3,
}


@dataclass(frozen=True)
class Data:
    x: Tensor
    y: Tensor
    x_val: Tensor
    y_val: Tensor
    loss_fn: LossFn


@dataclass(frozen=True)
class Setup:
    name: str
    split: str  # "dev": the rule was chosen on it; "test": held out; later: "external", "fresh", "race"
    task: str  # "classification" or "regression"
    optimizer: str  # a key of NO_TUNING_LR
    batch_size: int
    steps: int  # the training budget, in optimizer steps
    data: Callable[[], Data]
    model: Callable[[], nn.Module]

    def make_optimizer(self, params: Iterator[nn.Parameter], lr: float) -> torch.optim.Optimizer:
        kind = self.optimizer
        if kind == "sgd":
            return torch.optim.SGD(params, lr=lr)
        if kind == "sgdm":
            return torch.optim.SGD(params, lr=lr, momentum=0.9)
        if kind == "adam":
            return torch.optim.Adam(params, lr=lr)
        if kind == "adamw":
            return torch.optim.AdamW(params, lr=lr)
        if kind == "adagrad":
            return torch.optim.Adagrad(params, lr=lr)
        if kind == "adamax":
            return torch.optim.Adamax(params, lr=lr)
        if kind == "nadam":
            return torch.optim.NAdam(params, lr=lr)
        return torch.optim.RMSprop(params, lr=lr)

    def build(self, seed: int) -> nn.Module:
        torch.manual_seed(seed)
        return self.model()

    def batches(self, seed: int, count: int) -> list[tuple[Tensor, Tensor]]:
        """``count`` mini-batches, shuffled anew every epoch, in a seeded order."""
        data = self.data()
        rng = np.random.default_rng(seed + 10_000)
        n = data.x.shape[0]
        out: list[tuple[Tensor, Tensor]] = []
        while len(out) < count:
            order = torch.from_numpy(rng.permutation(n))
            for start in range(0, n - self.batch_size + 1, self.batch_size):
                idx = order[start : start + self.batch_size]
                out.append((data.x[idx], data.y[idx]))
                if len(out) == count:
                    break
        return out


# -- data -------------------------------------------------------------------------------------
def _split(
    x: np.ndarray, y: np.ndarray, loss_fn: LossFn, *, classes: bool, standardize: bool = True
) -> Data:
    rng = np.random.default_rng(0)
    order = rng.permutation(len(x))
    if standardize:
        x = (x - x.mean(0)) / (x.std(0) + 1e-8)
    cut = int(0.75 * len(x))
    xt = torch.tensor(x, dtype=torch.float32)
    yt = torch.tensor(y, dtype=torch.long if classes else torch.float32)
    tr, va = torch.from_numpy(order[:cut]), torch.from_numpy(order[cut:])
    return Data(xt[tr], yt[tr], xt[va], yt[va], loss_fn)


def _mse(out: Tensor, y: Tensor) -> Tensor:
    return F.mse_loss(out.squeeze(-1), y)


def _classes(x: np.ndarray, y: np.ndarray) -> Data:
    return _split(x, y, F.cross_entropy, classes=True)


def _regression(x: np.ndarray, y: np.ndarray, *, standardize: bool = True) -> Data:
    """Standardized target, mean squared error; ``standardize``: the inputs too."""
    return _split(x, (y - y.mean()) / y.std(), _mse, classes=False, standardize=standardize)


@functools.cache
def digits() -> Data:
    return _classes(*datasets.load_digits(return_X_y=True))


@functools.cache
def digits_unit() -> Data:
    """The digits as ``lrfinder demo`` feeds them: pixels / 16 (0..1), not standardized."""
    x, y = datasets.load_digits(return_X_y=True)
    return _split(x / 16.0, y, F.cross_entropy, classes=True, standardize=False)


@functools.cache
def digits_images() -> Data:
    d = digits()
    return Data(d.x.view(-1, 1, 8, 8), d.y, d.x_val.view(-1, 1, 8, 8), d.y_val, F.cross_entropy)


@functools.cache
def digits_autoencode() -> Data:
    d = digits()
    return Data(d.x, d.x, d.x_val, d.x_val, F.mse_loss)


@functools.cache
def wine() -> Data:
    return _classes(*datasets.load_wine(return_X_y=True))


@functools.cache
def breast_cancer() -> Data:
    return _classes(*datasets.load_breast_cancer(return_X_y=True))


@functools.cache
def diabetes() -> Data:
    return _regression(*datasets.load_diabetes(return_X_y=True))


@functools.cache
def friedman() -> Data:
    return _regression(*datasets.make_friedman1(n_samples=2000, noise=0.5, random_state=0))


@functools.cache
def synthetic_classes() -> Data:
    return _classes(
        *datasets.make_classification(
            n_samples=3000, n_features=20, n_informative=12, n_classes=4, random_state=0
        )
    )


@functools.cache
def moons() -> Data:
    return _classes(*datasets.make_moons(n_samples=3000, noise=0.25, random_state=0))


@functools.cache
def iris() -> Data:
    return _classes(*datasets.load_iris(return_X_y=True))


@functools.cache
def circles() -> Data:
    return _classes(*datasets.make_circles(n_samples=2000, noise=0.1, factor=0.5, random_state=0))


@functools.cache
def wide_regression() -> Data:
    return _regression(
        *datasets.make_regression(n_samples=2000, n_features=50, noise=10.0, random_state=0)
    )


@functools.cache
def digits_rows() -> Data:
    """The digits as sequences: 8 rows of 8 pixels each."""
    d = digits()
    return Data(d.x.view(-1, 8, 8), d.y, d.x_val.view(-1, 8, 8), d.y_val, F.cross_entropy)


CONTEXT = 32
VOCAB = 128


def _char_loss(out: Tensor, y: Tensor) -> Tensor:
    return F.cross_entropy(out.reshape(-1, VOCAB), y.reshape(-1))


@functools.cache
def python_text() -> Data:
    """Next-character windows from argparse.py, a file every Python installation ships."""
    with open(argparse.__file__, encoding="utf-8") as fh:
        text = fh.read()[:60_000]
    codes = torch.tensor([min(ord(c), VOCAB - 1) for c in text], dtype=torch.long)
    cut = int(0.85 * codes.numel())
    starts = torch.arange(0, cut - CONTEXT - 1, 7)
    val_starts = torch.arange(cut, codes.numel() - CONTEXT - 1, 37)

    def windows(s: Tensor) -> tuple[Tensor, Tensor]:
        idx = s[:, None] + torch.arange(CONTEXT)[None, :]
        return codes[idx], codes[idx + 1]

    x, y = windows(starts)
    xv, yv = windows(val_starts)
    return Data(x, y, xv, yv, _char_loss)


CHAR_MLP_CONTEXT = 8


@functools.cache
def textwrap_chars() -> Data:
    """The next character from the 8 before it, in textwrap.py (ships with Python)."""
    with open(textwrap.__file__, encoding="utf-8") as fh:
        codes = torch.tensor([min(ord(c), VOCAB - 1) for c in fh.read()], dtype=torch.long)
    cut = int(0.85 * codes.numel())

    def windows(starts: Tensor) -> tuple[Tensor, Tensor]:
        idx = starts[:, None] + torch.arange(CHAR_MLP_CONTEXT)[None, :]
        return codes[idx], codes[starts + CHAR_MLP_CONTEXT]

    x, y = windows(torch.arange(0, cut - CHAR_MLP_CONTEXT - 1, 2))
    xv, yv = windows(torch.arange(cut, codes.numel() - CHAR_MLP_CONTEXT - 1, 3))
    return Data(x, y, xv, yv, F.cross_entropy)


# -- data of the race setups --------------------------------------------------------------------
MOTIF_LEN = 32  # steps of a motif sequence
MOTIF_WIDTH = 5


@functools.cache
def motif_sequences() -> Data:
    """Noise sequences of 32 steps on 3 channels; the class is which of 4 short motifs (5 steps)
    is planted in it, at a random place."""
    rng = np.random.default_rng(0)
    n, channels = 3000, 3
    motifs = rng.normal(size=(4, channels, MOTIF_WIDTH))
    y = rng.integers(0, 4, n)
    x = rng.normal(size=(n, channels, MOTIF_LEN))
    cols = rng.integers(0, MOTIF_LEN - MOTIF_WIDTH + 1, n)[:, None] + np.arange(MOTIF_WIDTH)
    rows, chans = np.arange(n)[:, None, None], np.arange(channels)[None, :, None]
    x[rows, chans, cols[:, None, :]] += motifs[y]
    return _split(x, y, F.cross_entropy, classes=True, standardize=False)


SORT_LEN = 8
SORT_VOCAB = 10


def _token_loss(out: Tensor, y: Tensor) -> Tensor:
    """Cross-entropy per position of a sequence: ``out`` (batch, length, classes)."""
    return F.cross_entropy(out.flatten(0, -2), y.flatten())


@functools.cache
def sort_digits() -> Data:
    """8 random digits (0-9) in, the same digits sorted out: a token per position."""
    x = np.random.default_rng(0).integers(0, SORT_VOCAB, size=(4000, SORT_LEN))
    return _split(x, np.sort(x, axis=1), _token_loss, classes=True, standardize=False)


@functools.cache
def friedman2() -> Data:
    return _regression(*datasets.make_friedman2(n_samples=2000, noise=30.0, random_state=0))


@functools.cache
def hastie() -> Data:
    """make_hastie_10_2: 10 standard normals, class 1 where their squares sum above 9.34."""
    x, y = datasets.make_hastie_10_2(n_samples=4000, random_state=0)
    return _classes(x, (y > 0).astype(np.int64))


@functools.cache
def gaussian_quantiles() -> Data:
    """4 classes as concentric shells of a 6-dimensional Gaussian."""
    return _classes(
        *datasets.make_gaussian_quantiles(n_samples=2000, n_features=6, n_classes=4, random_state=0)
    )


@functools.cache
def digits_smoothed() -> Data:
    """The digits, scored with label-smoothed (0.1) cross-entropy, in training and validation."""
    return dataclasses.replace(
        digits(), loss_fn=functools.partial(F.cross_entropy, label_smoothing=0.1)
    )


def _huber(out: Tensor, y: Tensor) -> Tensor:
    return F.huber_loss(out.squeeze(-1), y, delta=1.0)


@functools.cache
def heavy_tailed_regression() -> Data:
    """A linear make_regression target plus Student-t noise (2 degrees of freedom: outliers),
    scaled by its median and interquartile range (its std is the outliers'), Huber loss."""
    x, y = datasets.make_regression(
        n_samples=3000, n_features=20, n_informative=10, noise=0.0, random_state=1
    )
    y = y + 0.2 * y.std() * np.random.default_rng(1).standard_t(2, size=len(y))
    q75, q25 = np.percentile(y, [75, 25])
    return _split(x, (y - np.median(y)) / ((q75 - q25) / 1.349), _huber, classes=False)


BIGRAM_BUCKETS = 512
LINE_BIGRAMS = 64


@functools.cache
def stdlib_lines() -> Data:
    """Which of difflib.py, heapq.py and calendar.py (they ship with Python) a non-blank line
    of source comes from, given the line's character bigrams hashed into 511 buckets (0 pads)."""
    rows, labels = [], []
    for label, module in enumerate((difflib, heapq, calendar)):
        with open(str(module.__file__), encoding="utf-8") as fh:
            lines = [line.strip() for line in fh]
        for line in filter(None, lines):
            codes = [min(ord(c), VOCAB - 1) for c in line]
            ids = [(a * VOCAB + b) % (BIGRAM_BUCKETS - 1) + 1 for a, b in itertools.pairwise(codes)]
            ids = (ids or [1])[:LINE_BIGRAMS]
            rows.append(ids + [0] * (LINE_BIGRAMS - len(ids)))
            labels.append(label)
    return _split(np.array(rows), np.array(labels), F.cross_entropy, classes=True,
                  standardize=False)  # fmt: skip


@functools.cache
def imbalanced_classes() -> Data:
    """Covertype-like: 54 features (the last 20 made binary, as its one-hot soil types), 7
    classes from 36% down to 2% of the samples."""
    x, y = datasets.make_classification(
        n_samples=8000,
        n_features=54,
        n_informative=12,
        n_redundant=6,
        n_classes=7,
        n_clusters_per_class=2,
        weights=[0.36, 0.3, 0.15, 0.08, 0.05, 0.04, 0.02],
        flip_y=0.02,
        random_state=2,
    )
    x[:, 34:] = x[:, 34:] > 0.5
    return _classes(x, y)


ADDING_LEN = 16


@functools.cache
def adding_problem() -> Data:
    """The LSTM adding problem: 16 steps of (value in 0..1, marker); the target is the sum of
    the two marked values, one in each half of the sequence."""
    rng = np.random.default_rng(0)
    n = 3000
    values = rng.uniform(size=(n, ADDING_LEN))
    marks = np.zeros((n, ADDING_LEN))
    half = ADDING_LEN // 2
    marks[np.arange(n), rng.integers(0, half, n)] = 1.0
    marks[np.arange(n), rng.integers(half, ADDING_LEN, n)] = 1.0
    x = np.stack([values, marks], axis=-1)
    return _regression(x, (values * marks).sum(1), standardize=False)


# -- models -----------------------------------------------------------------------------------
def mlp(sizes: list[int], *, batchnorm: bool = False, act: type[nn.Module] = nn.ReLU) -> nn.Module:
    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(itertools.pairwise(sizes)):
        layers.append(nn.Linear(a, b))
        if i < len(sizes) - 2:
            if batchnorm:
                layers.append(nn.BatchNorm1d(b))
            layers.append(act())
    return nn.Sequential(*layers)


def cnn(*, batchnorm: bool) -> nn.Module:
    def norm(c: int) -> nn.Module:
        return nn.BatchNorm2d(c) if batchnorm else nn.Identity()

    return nn.Sequential(
        nn.Conv2d(1, 8, 3, padding=1),
        norm(8),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(8, 16, 3, padding=1),
        norm(16),
        nn.ReLU(),
        nn.Flatten(),
        nn.Linear(16 * 4 * 4, 10),
    )


class CharTransformer(nn.Module):
    """One causal self-attention block over 32 characters: the smallest GPT."""

    def __init__(self, width: int = 32) -> None:
        super().__init__()
        self.embed = nn.Embedding(VOCAB, width)
        self.pos = nn.Parameter(torch.zeros(CONTEXT, width))
        self.block = nn.TransformerEncoderLayer(
            width, nhead=2, dim_feedforward=2 * width, dropout=0.0, batch_first=True
        )
        self.head = nn.Linear(width, VOCAB)
        self.register_buffer("mask", nn.Transformer.generate_square_subsequent_mask(CONTEXT))

    def forward(self, x: Tensor) -> Tensor:
        h = self.embed(x) + self.pos
        return self.head(self.block(h, src_mask=self.mask, is_causal=True))


class RowGRU(nn.Module):
    """A GRU over the 8 rows of a digit, classified from its last state."""

    def __init__(self, width: int = 32) -> None:
        super().__init__()
        self.gru = nn.GRU(8, width, batch_first=True)
        self.head = nn.Linear(width, 10)

    def forward(self, x: Tensor) -> Tensor:
        return self.head(self.gru(x)[0][:, -1])


class ResidualMLP(nn.Module):
    """Pre-LayerNorm residual blocks, the shape of a Transformer's feed-forward half."""

    def __init__(self, inputs: int, width: int, blocks: int, outputs: int) -> None:
        super().__init__()
        self.stem = nn.Linear(inputs, width)
        self.blocks = nn.ModuleList(
            nn.Sequential(nn.LayerNorm(width), nn.Linear(width, 2 * width), nn.GELU(),
                          nn.Linear(2 * width, width))
            for _ in range(blocks)
        )  # fmt: skip
        self.head = nn.Sequential(nn.LayerNorm(width), nn.Linear(width, outputs))

    def forward(self, x: Tensor) -> Tensor:
        h = self.stem(x)
        for block in self.blocks:
            h = h + block(h)
        return self.head(h)


def char_mlp() -> nn.Module:
    return nn.Sequential(
        nn.Embedding(VOCAB, 16),
        nn.Flatten(),
        nn.Linear(16 * CHAR_MLP_CONTEXT, 128),
        nn.ReLU(),
        nn.Linear(128, VOCAB),
    )


def cnn_dropout() -> nn.Module:
    return nn.Sequential(
        nn.Conv2d(1, 16, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Dropout(0.25),
        nn.Flatten(),
        nn.Linear(16 * 4 * 4, 10),
    )


# -- models of the race setups ------------------------------------------------------------------
def conv1d_net() -> nn.Module:
    """Two 1-D convolutions and a global max over time: finds a motif wherever it is."""
    return nn.Sequential(
        nn.Conv1d(3, 16, MOTIF_WIDTH, padding=2),
        nn.ReLU(),
        nn.Conv1d(16, 16, MOTIF_WIDTH, padding=2),
        nn.ReLU(),
        nn.AdaptiveMaxPool1d(1),
        nn.Flatten(),
        nn.Linear(16, 4),
    )


class SortAttention(nn.Module):
    """One bidirectional pre-LayerNorm self-attention block reading 8 digits, writing them
    sorted (a token per position)."""

    def __init__(self, width: int = 32) -> None:
        super().__init__()
        self.embed = nn.Embedding(SORT_VOCAB, width)
        self.pos = nn.Parameter(0.1 * torch.randn(SORT_LEN, width))
        self.block = nn.TransformerEncoderLayer(
            width, nhead=4, dim_feedforward=2 * width, dropout=0.0, batch_first=True,
            norm_first=True,
        )  # fmt: skip
        self.head = nn.Linear(width, SORT_VOCAB)

    def forward(self, x: Tensor) -> Tensor:
        return self.head(self.block(self.embed(x.long()) + self.pos))


class GatedExperts(nn.Module):
    """A softmax gate mixing small expert MLPs: a dense mixture of experts."""

    def __init__(self, inputs: int, width: int, experts: int, outputs: int) -> None:
        super().__init__()
        self.gate = nn.Linear(inputs, experts)
        self.experts = nn.ModuleList(mlp([inputs, width, outputs]) for _ in range(experts))

    def forward(self, x: Tensor) -> Tensor:
        weights = torch.softmax(self.gate(x), dim=-1)
        outs = torch.stack([expert(x) for expert in self.experts], dim=-1)
        return (outs * weights.unsqueeze(-2)).sum(-1)


class BigramBag(nn.Module):
    """The mean embedding of a line's hashed bigrams, then a small MLP."""

    def __init__(self, width: int = 32, classes: int = 3) -> None:
        super().__init__()
        self.bag = nn.EmbeddingBag(BIGRAM_BUCKETS, width, mode="mean", padding_idx=0)
        self.head = mlp([width, width, classes])

    def forward(self, x: Tensor) -> Tensor:
        return self.head(self.bag(x.long()))


class AddingLSTM(nn.Module):
    """An LSTM over the adding problem's steps, the sum read from its last state."""

    def __init__(self, width: int = 32) -> None:
        super().__init__()
        self.lstm = nn.LSTM(2, width, batch_first=True)
        self.head = nn.Linear(width, 1)

    def forward(self, x: Tensor) -> Tensor:
        return self.head(self.lstm(x)[0][:, -1])


SETUPS: tuple[Setup, ...] = (
    Setup("digits_mlp_sgd", "dev", "classification", "sgd", 32, 300, digits,
          lambda: mlp([64, 64, 10])),
    Setup("digits_mlp_bn_sgdm", "test", "classification", "sgdm", 64, 200, digits,
          lambda: mlp([64, 64, 64, 10], batchnorm=True)),
    Setup("digits_cnn_adam", "dev", "classification", "adam", 32, 200, digits_images,
          lambda: cnn(batchnorm=False)),
    Setup("digits_cnn_bn_sgdm", "test", "classification", "sgdm", 128, 150, digits_images,
          lambda: cnn(batchnorm=True)),
    Setup("deep_mlp_sgdm", "dev", "classification", "sgdm", 64, 300, synthetic_classes,
          lambda: mlp([20] + [32] * 9 + [4])),
    Setup("deep_tanh_mlp_adam", "test", "classification", "adam", 64, 300, synthetic_classes,
          lambda: mlp([20] + [32] * 7 + [4], act=nn.Tanh)),
    Setup("diabetes_mlp_adamw", "dev", "regression", "adamw", 16, 300, diabetes,
          lambda: mlp([10, 32, 1])),
    Setup("friedman_mlp_rmsprop", "test", "regression", "rmsprop", 32, 400, friedman,
          lambda: mlp([10, 64, 64, 1])),
    Setup("char_transformer_adamw", "dev", "classification", "adamw", 32, 300, python_text,
          CharTransformer),
    Setup("digits_autoencoder_adam", "test", "regression", "adam", 64, 300, digits_autoencode,
          lambda: mlp([64, 16, 64])),
    Setup("wine_linear_sgd", "dev", "classification", "sgd", 16, 200, wine,
          lambda: mlp([13, 3])),
    Setup("breast_cancer_mlp_rmsprop", "test", "classification", "rmsprop", 16, 200,
          breast_cancer, lambda: mlp([30, 32, 2])),
    Setup("moons_mlp_bn_adamw", "dev", "classification", "adamw", 128, 300, moons,
          lambda: mlp([2, 64, 64, 2], batchnorm=True)),
    # External: added after the rule was fixed, none of them seen while choosing it. Plain MLPs
    # (no normalisation) with SGD+momentum 0.9, where `fall` was seen to over-shoot.
    Setup("demo_digits_mlp_sgdm", "external", "classification", "sgdm", 64, 200, digits_unit,
          lambda: mlp([64, 128, 10])),  # `lrfinder demo`'s model, data and optimizer
    Setup("digits_mlp_sgdm_b16", "external", "classification", "sgdm", 16, 300, digits,
          lambda: mlp([64, 64, 10])),
    Setup("breast_cancer_mlp_sgdm", "external", "classification", "sgdm", 32, 200,
          breast_cancer, lambda: mlp([30, 64, 2])),
    Setup("classes_mlp_sgdm_b128", "external", "classification", "sgdm", 128, 200,
          synthetic_classes, lambda: mlp([20, 64, 64, 4])),
    Setup("friedman_mlp_sgdm", "external", "regression", "sgdm", 32, 300, friedman,
          lambda: mlp([10, 64, 64, 1])),
    # Fresh: added after the rule's last change, committed before any rule was run on them.
    Setup("iris_mlp_adam", "fresh", "classification", "adam", 16, 150, iris,
          lambda: mlp([4, 16, 3])),
    Setup("wine_mlp_bn_sgd", "fresh", "classification", "sgd", 32, 200, wine,
          lambda: mlp([13, 32, 32, 3], batchnorm=True)),
    Setup("circles_mlp_rmsprop", "fresh", "classification", "rmsprop", 64, 300, circles,
          lambda: mlp([2, 32, 32, 2])),
    Setup("wide_linear_adamw", "fresh", "regression", "adamw", 32, 200, wide_regression,
          lambda: mlp([50, 1])),
    Setup("digits_gru_adam", "fresh", "classification", "adam", 64, 200, digits_rows,
          RowGRU),
    Setup("digits_resmlp_adamw", "fresh", "classification", "adamw", 32, 300, digits,
          lambda: ResidualMLP(64, 64, 3, 10)),
    Setup("friedman_mlp_adam_b256", "fresh", "regression", "adam", 256, 300, friedman,
          lambda: mlp([10, 128, 1])),
    Setup("textwrap_char_mlp_sgdm", "fresh", "classification", "sgdm", 64, 300,
          textwrap_chars, char_mlp),
    Setup("digits_cnn_dropout_rmsprop", "fresh", "classification", "rmsprop", 32, 200,
          digits_images, cnn_dropout),
    # Race: added before tune_lr was ever run, committed before any curve of theirs was read:
    # the race's unseen check. Data, architectures, optimizers (Adagrad, Adamax, NAdam among
    # them), batch sizes (8 to 512) and budgets unlike the setups above.
    Setup("motif_conv1d_adam", "race", "classification", "adam", 64, 200, motif_sequences,
          conv1d_net),
    Setup("sort_attention_nadam", "race", "classification", "nadam", 32, 300, sort_digits,
          SortAttention),
    Setup("friedman2_deep_mlp_sgd", "race", "regression", "sgd", 32, 300, friedman2,
          lambda: mlp([4] + [32] * 6 + [1])),
    Setup("hastie_experts_adamw", "race", "classification", "adamw", 64, 250, hastie,
          lambda: GatedExperts(10, 16, 4, 2)),
    Setup("quantiles_mlp_nadam", "race", "classification", "nadam", 16, 300,
          gaussian_quantiles, lambda: mlp([6, 32, 32, 4])),
    Setup("digits_wide_tanh_smooth_sgdm_b8", "race", "classification", "sgdm", 8, 400,
          digits_smoothed, lambda: mlp([64, 512, 10], act=nn.Tanh)),
    Setup("heavy_tail_huber_rmsprop", "race", "regression", "rmsprop", 128, 300,
          heavy_tailed_regression, lambda: mlp([20, 64, 64, 1])),
    Setup("stdlib_lines_bag_adagrad", "race", "classification", "adagrad", 32, 300,
          stdlib_lines, BigramBag),
    Setup("imbalanced_classes_mlp_adam_b512", "race", "classification", "adam", 512, 150,
          imbalanced_classes, lambda: mlp([54, 128, 64, 7])),
    Setup("adding_lstm_adamax", "race", "regression", "adamax", 32, 300, adding_problem,
          AddingLSTM),
)  # fmt: skip

BY_NAME = {s.name: s for s in SETUPS}
