"""The MLflow Model Registry holding pmm's exported packages.

A run logs its package (`NAME.pmm`, no pickle) as the artifact folder `package/`; registering
makes that folder a new version of a registered model, with the model card as its description
and the package's SHA-256 as a tag. `models:/NAME/3`, `models:/NAME@champion` and
`models:/NAME/latest` then name it anywhere pmm takes a checkpoint: the package is downloaded
once into a local cache and checked against that hash.
"""
from __future__ import annotations

import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

from pmm.tracking.mlflow_tracking import MlflowClient, MlflowException, resolve_tracking_uri
from pmm_core.errors import PmmError

PACKAGE_ARTIFACT = "package"
SHA256_TAG = "pmm.sha256"
MODELS_URI = re.compile(r"^models:/(?P<name>[^/@]+)(?:/(?P<version>\d+|latest)|@(?P<alias>[\w-]+))$")


@dataclass(frozen=True)
class RegisteredVersion:
    name: str
    version: str

    @property
    def uri(self) -> str:
        return f"models:/{self.name}/{self.version}"


def register_package(client: MlflowClient, run_id: str, name: str, card: str, sha256: str) -> RegisteredVersion:
    """The run's logged `package/` as a new version of `name` (created with the card when new)."""
    try:
        client.get_registered_model(name)
    except MlflowException:
        try:
            client.create_registered_model(name, description=card)
        except MlflowException:  # registered by another process in between
            pass
    source = f"{client.get_run(run_id).info.artifact_uri}/{PACKAGE_ARTIFACT}"
    version = client.create_model_version(name, source=source, run_id=run_id, description=card,
                                          tags={SHA256_TAG: sha256})
    client.update_registered_model(name, description=card)  # the newest version's card
    return RegisteredVersion(name, str(version.version))


def default_model_cache() -> Path:
    return Path(os.environ.get("PMM_MODEL_CACHE") or Path.home() / ".cache" / "pmm" / "models")


def download_registered(uri: str, tracking_uri: str | None = None, cache: Path | None = None) -> tuple[Path, str]:
    """(local package file, its SHA-256 as registered) for a `models:/` URI; one line when the
    name, version or alias is unknown or the version holds no pmm package."""
    match = MODELS_URI.match(uri)
    if match is None:
        raise PmmError(f"{uri}: write models:/NAME/VERSION, models:/NAME@ALIAS or models:/NAME/latest")
    store = resolve_tracking_uri(tracking_uri)
    client = MlflowClient(store)
    name = match["name"]
    try:
        if match["alias"]:
            version = client.get_model_version_by_alias(name, match["alias"])
        elif match["version"] == "latest":
            versions = client.search_model_versions(f"name = '{name}'")
            if not versions:
                raise PmmError(f"{uri}: model {name} has no version in {store}")
            version = max(versions, key=lambda v: int(v.version))
        else:
            version = client.get_model_version(name, match["version"])
    except MlflowException as exc:
        raise PmmError(f"{uri}: not in the registry of {store} ({exc.message.splitlines()[0]})") from None
    folder = Path(cache or default_model_cache()) / f"{name}-v{version.version}"
    found = sorted(folder.rglob("*.pmm")) if folder.is_dir() else []
    if len(found) != 1:  # not downloaded yet (or a download that was cut): fetched whole, then renamed
        shutil.rmtree(folder, ignore_errors=True)
        partial = folder.with_name(folder.name + ".partial")
        shutil.rmtree(partial, ignore_errors=True)
        partial.mkdir(parents=True)
        try:
            client.download_artifacts(version.run_id, PACKAGE_ARTIFACT, str(partial))
        except MlflowException as exc:
            shutil.rmtree(partial, ignore_errors=True)
            raise PmmError(f"{uri}: its package could not be downloaded ({exc.message.splitlines()[0]})") from None
        if len(list(partial.rglob("*.pmm"))) != 1:
            shutil.rmtree(partial, ignore_errors=True)
            raise PmmError(f"{uri}: version {version.version} of {name} holds no pmm package (a model registered "
                           "by something other than pmm?)")
        partial.rename(folder)
        found = sorted(folder.rglob("*.pmm"))
    return found[0], version.tags.get(SHA256_TAG, "")
