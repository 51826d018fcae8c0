"""PNG charts for the reports (matplotlib, Agg backend: no display needed, works in CI).

Each function writes one file into the report folder and returns its name (relative, so report.md links work
wherever the folder is copied), or "" when there is nothing to draw.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (the backend must be chosen first)


def _save(fig, out: Path, name: str) -> str:
    out.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(out / name, dpi=110)
    plt.close(fig)
    return name


def confusion_matrices(
    out: Path, dataset: str, rows: Sequence[str], columns: Sequence[str], matrices: dict[str, list[list[int]]]
) -> str:
    """One panel per predictor (rules / model / combined): gold rows against predicted columns, counts annotated."""
    if not matrices:
        return ""
    fig, axes = plt.subplots(1, len(matrices), figsize=(4.2 * len(matrices), 3.6), squeeze=False)
    for ax, (title, matrix) in zip(axes[0], matrices.items()):
        ax.imshow(matrix, cmap="Blues")
        ax.set_xticks(range(len(columns)), columns, rotation=35, ha="right", fontsize=8)
        ax.set_yticks(range(len(rows)), rows, fontsize=8)
        ax.set_xlabel("predicted")
        ax.set_ylabel("gold")
        ax.set_title(title)
        peak = max((max(r) for r in matrix), default=0) or 1
        for i, row in enumerate(matrix):
            for j, value in enumerate(row):
                colour = "white" if value > peak / 2 else "black"
                ax.text(j, i, str(value), ha="center", va="center", color=colour, fontsize=9)
    fig.suptitle(f"Triage confusion: {dataset}")
    return _save(fig, out, f"triage-confusion-{dataset}.png")


def recall_curves(out: Path, dataset: str, ks: Sequence[int], curves: dict[str, list[float]]) -> str:
    """recall@k against k, one line per retriever."""
    if not curves:
        return ""
    fig, ax = plt.subplots(figsize=(5, 3.6))
    for mode, values in curves.items():
        ax.plot(list(ks), values, marker="o", label=mode)
    ax.set_xticks(list(ks))
    ax.set_ylim(0, 1.02)
    ax.set_xlabel("k")
    ax.set_ylabel("recall@k")
    ax.set_title(f"Retrieval: {dataset}")
    ax.grid(alpha=0.3)
    ax.legend()
    return _save(fig, out, f"retrieval-recall-{dataset}.png")


def latency_distribution(out: Path, samples: dict[str, dict[str, list[float]]]) -> str:
    """Box plots of time to first token and whole-turn time (seconds) per model, every sample dotted on top."""
    if not samples:
        return ""
    metrics = ("ttft_s", "total_s")
    fig, axes = plt.subplots(1, len(metrics), figsize=(4.5 * len(metrics), 3.6), squeeze=False)
    names = list(samples)
    for ax, metric in zip(axes[0], metrics):
        data = [samples[n].get(metric, []) or [0.0] for n in names]
        ax.boxplot(data, tick_labels=names)
        for i, values in enumerate(data, 1):
            ax.scatter([i] * len(values), values, s=12, alpha=0.6)
        ax.set_ylabel("seconds")
        ax.set_title({"ttft_s": "time to first token", "total_s": "whole turn"}[metric])
        ax.grid(alpha=0.3, axis="y")
    return _save(fig, out, "latency.png")


def bars(out: Path, name: str, title: str, labels: Sequence[str], values: Sequence[float], ylabel: str) -> str:
    """A simple bar chart (safety recall/false-alarm, grounding support)."""
    if not labels:
        return ""
    fig, ax = plt.subplots(figsize=(max(4.0, 0.9 * len(labels) + 1.5), 3.4))
    ax.bar(list(labels), list(values), color="#4c72b0")
    for i, v in enumerate(values):
        ax.text(i, v + 0.01, f"{v:.2f}", ha="center", fontsize=8)
    ax.set_ylim(0, 1.1)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.tick_params(axis="x", labelrotation=20, labelsize=8)
    return _save(fig, out, name)
