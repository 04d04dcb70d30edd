"""Evaluation tasks (`T1,T2->FLAIR`): parsing, and the paper's Table 1 / Table 2 tasks per site."""
from __future__ import annotations

from dataclasses import dataclass

from pmm_core.errors import PmmError
from pmm_core.modalities import MODALITIES, canonical_modality


@dataclass(frozen=True)
class Task:
    sources: tuple[str, ...]
    target: str

    @property
    def name(self) -> str:
        return f"{','.join(self.sources)}->{self.target}"


def metric_key(task_name: str) -> str:
    """MLflow 3.17 refuses '>' and ',' in metric names: 'T1,T2->FLAIR' is logged as 'T1_T2_to_FLAIR'."""
    return task_name.replace("->", "_to_").replace(",", "_")


PAPER_TASKS: dict[str, tuple[str, ...]] = {
    "TTG": ("T1->T1C", "T2->FLAIR", "T1,T2->FLAIR", "T1,T2,FLAIR->T1C"),
    "TTI": ("T1->T2", "T2->FLAIR", "T1,T2->FLAIR", "T1,T2,FLAIR->ADC"),
    "BRATS": ("T1->T1C", "T2->FLAIR", "T1,T2->FLAIR", "T1,T2,FLAIR->T1C"),
    "ISLES": ("FLAIR->DWI", "FLAIR->ADC", "FLAIR,DWI->ADC", "FLAIR,ADC->DWI"),
}


def parse_task(text: str) -> Task:
    """'T1,T2->FLAIR' → Task; a clear error for unknown modalities or a target among the sources."""
    if "->" not in text:
        raise PmmError(f"task {text!r}: write it as SOURCES->TARGET, e.g. 'T1,T2->FLAIR'")
    left, right = text.split("->", 1)
    sources = tuple(canonical_modality(s) for s in left.split(",") if s.strip())
    target = canonical_modality(right)
    if not sources:
        raise PmmError(f"task {text!r}: needs at least one source modality")
    if target in sources:
        raise PmmError(f"task {text!r}: the target {target} is also a source")
    return Task(tuple(sorted(set(sources), key=MODALITIES.index)), target)


def default_tasks(site_name: str, modalities: list[str]) -> list[Task]:
    """The paper's tasks for its four sites; for another site, all its other modalities → each one."""
    if site_name.upper() in PAPER_TASKS:
        return [parse_task(t) for t in PAPER_TASKS[site_name.upper()]]
    return [Task(tuple(m for m in modalities if m != target), target) for target in modalities if len(modalities) > 1]
