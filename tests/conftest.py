"""Fixtures: small real sites in each layout, written to a temporary folder."""
from __future__ import annotations

import atexit
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from pmm_processes import run_forked  # noqa: E402
from synthetic import rigid_matrix, write_label, write_modality  # noqa: E402

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")

# Under pytest-xdist each worker gets its share of the cores, for itself and every process its tests
# start (torch, ITK and OpenMP default to all cores: two workers would each run as many threads as
# there are cores, and oversubscribed OpenMP threads spin; measured: 40 % more CPU time, slower run).
if os.environ.get("PYTEST_XDIST_WORKER_COUNT"):
    _threads = str(max(1, (os.cpu_count() or 1) // int(os.environ["PYTEST_XDIST_WORKER_COUNT"])))
    for _name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "ITK_GLOBAL_DEFAULT_NUMBER_OF_THREADS"):
        os.environ[_name] = _threads

PMM = str(Path(sys.executable).parent / "pmm")

# The phantom's template maps are cached per machine (pmm_core.phantom.anatomy); the suite keeps
# its own cache, shared by every worker and process it starts (pytest-xdist's workers inherit the
# first process's environment) and removed at the end, so each run starts cold, as CI does, and
# never writes into the user's home.
_OWN_MAPS_CACHE = "PMM_TEMPLATE_CACHE" not in os.environ  # a cache the user set is theirs: kept
os.environ.setdefault("PMM_TEMPLATE_CACHE", str(Path(tempfile.gettempdir()) / f"pmm-test-maps-{os.getpid()}"))

# test-size preprocessing: 32x32 crops at 6 mm pixels, no deepbet (tested on its own)
TEST_PREPROCESS = "crop_size = 32\nin_plane_spacing = 6.0\n"


def tiny_training_options(epochs: int):
    """Training options for a model small enough to train in seconds on the test sites.

    float32: at 8 channels and 32x32 crops bfloat16's casts cost more than its convolutions save
    (0.63x on the CPU's native bfloat16; from the demo's 16 channels at 64x64 on it wins, 1.2-2.3x);
    the bfloat16 path is tested on its own (test_precision) and by the demo and the GPU check."""
    from pmm_core.config.model import ModelOptions
    from pmm_core.config.training import TrainingOptions

    model = ModelOptions(base_channels=8, residual_blocks=1, embedding_dim=16, modulation_hidden=16, encoding_dim=16,
                         discriminator_channels=8, discriminator_layers=2)
    return TrainingOptions(epochs=epochs, batch_size=4, model=model, precision="float32")


def tiny_training_config(epochs: int) -> str:
    """The same options as a `--config` TOML, for the command-line tests."""
    from pmm_core.config.toml_loading import toml_text

    return toml_text(tiny_training_options(epochs))


def run_pmm(*args: str, cwd: Path | None = None, env: dict | None = None) -> subprocess.CompletedProcess:
    """The real `pmm` command in a process of its own, forked from one that has already imported
    torch, MLflow and the rest (pmm_processes: the same process a cold start gives, 2-4 CPU s sooner)."""
    return run_forked([PMM, *args], cwd=cwd, env=dict(os.environ, **(env or {})), timeout=600)


_EMPTY_STORE: Path | None = None


def mlflow_store(path: Path) -> str:
    """The URI of the MLflow SQLite store at `path`; where there is none yet, an empty one is put
    there first, a copy of one this worker made once.

    MLflow gives a new store its schema by running its migrations on the file, 2 CPU s each time,
    and the suite makes a few dozen stores. An empty store is the same file whoever made it (its
    one row, the "Default" experiment, is never used by pmm). The demo test still has MLflow make
    its store from nothing, as a user's first `make demo` does."""
    global _EMPTY_STORE
    if _EMPTY_STORE is None:
        from mlflow.tracking import MlflowClient

        folder = Path(tempfile.mkdtemp(prefix="pmm-test-mlflow-"))
        atexit.register(shutil.rmtree, folder, True)
        MlflowClient(f"sqlite:///{folder / 'empty.db'}").search_experiments()
        _EMPTY_STORE = folder / "empty.db"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(_EMPTY_STORE, path)
    return f"sqlite:///{path}"


def write_site_toml(root: Path, name: str, text: str) -> Path:
    toml = root / "sites" / f"{name.lower()}.toml"
    toml.parent.mkdir(parents=True, exist_ok=True)
    toml.write_text(text)
    return toml


def write_generic_site(root: Path, cases: int = 3, name: str = "GEN", dataset_id: int = 5) -> Path:
    """In-house style: one folder per case, thick oblique slices, each modality moved a little."""
    data = root / "data" / name
    for index in range(cases):
        case = data / f"case{index:02d}"
        write_modality(case / f"case{index:02d}_T1.nii.gz", "T1", seed=index)
        motion = rigid_matrix((2.0, 0.0, -3.0), (3.0, -2.0, 2.0))
        write_modality(case / f"case{index:02d}_T2.nii.gz", "T2", shape=(36, 44, 18), spacing=(4.5, 4.5, 8.0),
                       rotation_deg=(0, 0, 3), subject_motion=motion, seed=index)
        if index != 1:  # case01 misses FLAIR: two availability patterns
            write_modality(case / f"case{index:02d}_FLAIR.nii.gz", "FLAIR", seed=index)
        write_label(case / f"case{index:02d}_seg.nii.gz")
    return write_site_toml(
        root, name,
        f'name = "{name}"\ndataset_id = {dataset_id}\nroot = "../data/{name}"\nlayout = "generic"\n'
        'modalities = ["T1", "T2", "FLAIR"]\nlabel = "*_seg.nii.gz"\n\n'
        '[files]\nT1 = "*_T1.nii.gz"\nT2 = "*_T2.nii.gz"\nFLAIR = "*_FLAIR.nii.gz"\n\n'
        f"[preprocess]\nregister = true\nskull_strip = false\n{TEST_PREPROCESS}",
    )


def write_brats_site(root: Path, cases: int = 3) -> Path:
    """BraTS: co-registered, brain only; case 0 uses 2023 names, the rest 2019-2021 names."""
    data = root / "data" / "BraTS"
    grid = dict(shape=(40, 48, 30), spacing=(4.0, 4.0, 4.0), rotation_deg=(0, 0, 0))
    for index in range(cases):
        if index == 0:
            case = data / "BraTS-GLI-00000-000"
            names = {"T1": "t1n", "T1C": "t1c", "T2": "t2w", "FLAIR": "t2f", "seg": "seg"}
            sep = "-"
        else:
            case = data / f"BraTS2021_{index:05d}"
            names = {"T1": "t1", "T1C": "t1ce", "T2": "t2", "FLAIR": "flair", "seg": "seg"}
            sep = "_"
        for modality in ("T1", "T2", "T1C", "FLAIR"):
            write_modality(case / f"{case.name}{sep}{names[modality]}.nii.gz", modality, seed=index, **grid)
        write_label(case / f"{case.name}{sep}seg.nii.gz", **grid)
    return write_site_toml(
        root, "brats",
        'name = "BraTS"\ndataset_id = 2\nroot = "../data/BraTS"\nlayout = "brats"\n'
        f'modalities = ["T1", "T2", "T1C", "FLAIR"]\n\n[preprocess]\n{TEST_PREPROCESS}',
    )


def write_isles_site(root: Path, cases: int = 3) -> Path:
    """ISLES'22 BIDS: DWI/ADC on one grid, FLAIR on its own finer grid, masks in derivatives."""
    data = root / "data" / "ISLES"
    dwi_grid = dict(shape=(36, 40, 16), spacing=(5.0, 5.0, 9.0), rotation_deg=(0, 0, 0))
    for index in range(cases):
        subject, session = f"sub-strokecase{index:04d}", "ses-0001"
        base = data / "rawdata" / subject / session
        stem = f"{subject}_{session}"
        write_modality(base / "dwi" / f"{stem}_dwi.nii.gz", "DWI", seed=index, **dwi_grid)
        write_modality(base / "dwi" / f"{stem}_adc.nii.gz", "ADC", seed=index, **dwi_grid)
        flair_name = f"{stem}_FLAIR.nii.gz" if index % 2 == 0 else f"{stem}_flair.nii.gz"
        write_modality(base / "anat" / flair_name, "FLAIR", shape=(44, 52, 20), spacing=(4.0, 4.0, 7.0),
                       rotation_deg=(0, 0, 5), subject_motion=rigid_matrix((0, 2, 0), (2, 1, -2)), seed=index)
        write_label(data / "derivatives" / subject / session / f"{stem}_msk.nii.gz", **dwi_grid)
    return write_site_toml(
        root, "isles",
        'name = "ISLES"\ndataset_id = 3\nroot = "../data/ISLES"\nlayout = "isles2022"\n'
        f'modalities = ["FLAIR", "DWI", "ADC"]\n\n[preprocess]\n{TEST_PREPROCESS}',
    )


FLOWER_TOOLS = ("flower-superlink", "flower-supernode", "flower-superexec", "flwr-serverapp", "flwr-clientapp",
                "pmm.runtime.process_guard")


# every process this test session starts inherits this tag in its environment, so the final check
# finds exactly ours, also when several pytest workers or other runs share the machine
RUN_TAG = f"PMM_TEST_RUN={os.getpid()}-{uuid.uuid4().hex[:8]}"
os.environ["PMM_TEST_RUN"] = RUN_TAG.split("=", 1)[1]


def flower_processes() -> dict[int, str]:
    """Live (not zombie) processes of Flower's tools or pmm's guard started by this session: pid → command line."""
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
            if RUN_TAG.encode() not in (entry / "environ").read_bytes().split(b"\0"):
                continue
        except OSError:
            continue
        if state != "Z" and any(tool in command for tool in FLOWER_TOOLS):
            found[int(entry.name)] = command
    return found


@pytest.fixture(scope="session", autouse=True)
def no_process_left_behind():
    """Every process a test starts ends with it: after the run, any Flower process of this session
    still alive fails the suite (and is killed, so it cannot load the machine for hours)."""
    yield
    deadline = time.monotonic() + 20
    while (left := flower_processes()) and time.monotonic() < deadline:
        time.sleep(0.5)
    for pid in left:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    assert not left, "processes left behind by the tests:\n" + "\n".join(f"{p}: {c[:160]}" for p, c in left.items())


@pytest.fixture
def generic_site(tmp_path: Path) -> Path:
    return write_generic_site(tmp_path)


@pytest.fixture
def brats_site(tmp_path: Path) -> Path:
    return write_brats_site(tmp_path)


@pytest.fixture
def isles_site(tmp_path: Path) -> Path:
    return write_isles_site(tmp_path)


def built_once(tmp_path_factory, name: str, build) -> Path:
    """`build(folder)` run once per test run, however many pytest-xdist workers ask: the first
    builds under a file lock in the folder all workers share, the others wait and reuse it."""
    from filelock import FileLock

    base = tmp_path_factory.getbasetemp()
    shared = base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base
    folder, done = shared / name, shared / f"{name}.done"
    with FileLock(str(shared / f"{name}.lock")):
        if not done.is_file():
            shutil.rmtree(folder, ignore_errors=True)
            folder.mkdir(parents=True)
            build(folder)
            done.touch()
    return folder


def _prepare_test_sites(root: Path) -> None:
    from pmm_core.config.site import load_site
    from pmm_core.data.prepare_site import prepare_site

    for toml in (write_generic_site(root), write_brats_site(root), write_isles_site(root)):
        summary = prepare_site(load_site(toml), root / "cache", workers=1, progress=False, log=lambda _: None)
        assert not summary.failed, summary.failed


@pytest.fixture(scope="session")
def prepared_sites(tmp_path_factory) -> Path:
    """Generic, BraTS and ISLES sites prepared once into one cache root (shared, read-only)."""
    return built_once(tmp_path_factory, "prepared", _prepare_test_sites) / "cache"


@pytest.fixture(scope="session")
def prepared_phantom(tmp_path_factory) -> Path:
    """The test-size phantom federation (3 cases per site, seed 0) written and prepared once per run,
    through the same code `pmm demo` and `pmm experiment` use; tests copy it where those commands
    look for it, and the commands reuse it as they would a finished earlier run."""
    from pmm_core.phantom.prepared import ensure_phantom_federation

    folder = built_once(tmp_path_factory, "phantom", lambda root: ensure_phantom_federation(
        root / "phantom-3-0", 3, 0, echo=lambda _: None))
    return folder / "phantom-3-0"


# Test files that run for minutes (Flower federations, the experiment pipeline, the demo, native
# sizes), started first so that two workers finish together instead of one waiting on the last.
# The phantom-sharing files (demo, phantom) come after two others, so their worker does not sit on
# the phantom's file lock while the end-to-end test builds it.
SLOW_FIRST = ("test_federation", "test_experiment_end_to_end", "test_native_size", "test_bench", "test_demo",
              "test_gpu_check", "test_methods", "test_evaluate_synthesize", "test_train_central", "test_complete", "test_scale",
              "test_phantom")


def pytest_unconfigure(config) -> None:
    if _OWN_MAPS_CACHE and not os.environ.get("PYTEST_XDIST_WORKER"):  # the first process, workers ended
        shutil.rmtree(os.environ["PMM_TEMPLATE_CACHE"], ignore_errors=True)


def pytest_collection_modifyitems(session, config, items) -> None:
    def rank(item) -> int:
        module = item.module.__name__.rsplit(".", 1)[-1]
        return SLOW_FIRST.index(module) if module in SLOW_FIRST else len(SLOW_FIRST)

    items.sort(key=rank)  # stable: the order inside a file is kept
