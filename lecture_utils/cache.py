"""Train a model once, keep its weights on disk, load them next time (notebooks 06 and 07).

One policy for every cached model of the course, through :func:`cached`:

- **where**: ``$VAE_COURSE_CACHE`` if set, else ``~/.cache/vae-course/models``
  (:func:`cache_dir`); the folder is created on the first save.
- **file name**: ``<name>-<hash>.pt``, the hash taken over the model's *key*. The names say
  which notebook a model belongs to (``nb06-vae20``, ``nb07-ae2``), so two notebooks never
  share a name for different models.
- **the key**: every recipe field that decides the weights, plus :data:`FORMAT_VERSION`, torch's
  version and the SHA-256 of the embedded data file (new digits, or the same digits in another
  order, give other weights). These three are stored as ``format``, ``torch`` and ``data``
  (:data:`RESERVED_FIELDS`): a caller's key naming a field so is refused, since it would be
  overwritten (a model trained on computed data keys it as, say, ``train_data``). The format
  version is bumped whenever the file layout or the training code changes what a recipe
  produces. Torch's version is in because another version may sum in another order and give
  other weights: a notebook must print the same numbers whether its model was just trained or
  loaded. The thread count is *not* in the key: every
  cached model is trained under the course's thread policy
  (``seed.torch_threads(DEFAULT_THREADS)``), so it is the same for every file.
- **save**: atomic. The file is written to a temporary file in the target folder
  (``mkstemp``) and renamed over the target (``os.replace``), so a reader never sees half a
  file; the temporary file is removed if anything fails. An unwritable folder does not stop
  the notebook: the trained model is returned and the message says it was not saved.
- **load**: validated. The file must be readable, hold the same key, and hold finite weights
  that fit the freshly built model; otherwise the model is retrained and overwritten.
- **messages**: one line per model, through ``log`` (``print`` by default, ``None`` for
  silence): where it was loaded from, or why it was trained and where it was saved. The home
  folder is written ``~``, so stored notebook outputs show no machine path.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import torch
from torch import nn

from lecture_utils.data import EMBEDDED_SHA256
from lecture_utils.seed import DEFAULT_THREADS, torch_threads

CACHE_ENV = "VAE_COURSE_CACHE"
#: bump when the file layout or the training code changes what a recipe produces
FORMAT_VERSION = 2
#: the fields :func:`full_key` adds to every key; a caller's key must not use them
RESERVED_FIELDS = frozenset({"format", "torch", "data"})

Log = Callable[[str], None] | None


def cache_dir(directory: str | os.PathLike | None = None) -> Path:
    """``directory`` if given, else ``$VAE_COURSE_CACHE`` if set, else
    ``~/.cache/vae-course/models``."""
    if directory is not None:
        return Path(directory)
    env = os.environ.get(CACHE_ENV)
    return Path(env) if env else Path.home() / ".cache" / "vae-course" / "models"


def full_key(key: Mapping[str, Any]) -> dict[str, Any]:
    """``key`` plus the format version, torch's version and the data file's hash, in JSON form
    (tuples as lists), exactly as it is stored in the file."""
    if not isinstance(key, Mapping):
        raise TypeError(f"key must be a dict of recipe fields, got {type(key).__name__}")
    taken = sorted(RESERVED_FIELDS & set(key))
    if taken:  # they would be overwritten below, and the model keyed without them
        raise ValueError(
            f"key fields {taken} are the cache's own ({sorted(RESERVED_FIELDS)}); "
            "give them another name (e.g. 'train_data' for a hash of the training data)"
        )
    whole = {**key, "format": FORMAT_VERSION, "torch": torch.__version__, "data": EMBEDDED_SHA256}
    return json.loads(json.dumps(whole, sort_keys=True))


def cache_path(
    name: str, key: Mapping[str, Any], directory: str | os.PathLike | None = None
) -> Path:
    """The file that holds the model ``name`` with ``key``: ``<cache dir>/<name>-<hash>.pt``
    (it may not exist yet)."""
    text = json.dumps(full_key(key), sort_keys=True)
    return cache_dir(directory) / f"{name}-{hashlib.sha256(text.encode()).hexdigest()[:16]}.pt"


def shown(path: Path) -> str:
    """``path`` for a message, with no machine-specific prefix: a path inside the folder named by
    ``$VAE_COURSE_CACHE`` is written ``$VAE_COURSE_CACHE/...``, one inside the home folder
    ``~/...``; stored notebook outputs then read the same on every machine."""
    path = Path(path)
    env = os.environ.get(CACHE_ENV)
    for root, label in ((env, f"${CACHE_ENV}"), (str(Path.home()), "~")):
        if not root:
            continue
        try:
            return str(Path(label) / path.relative_to(Path(root)))
        except ValueError:
            pass
    return str(path)


class _Unusable(Exception):
    """A cache file that exists but cannot be used; the message says why."""


def _load(
    path: Path, key: dict[str, Any], build: Callable[[], nn.Module]
) -> tuple[nn.Module, dict]:
    try:
        blob = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # noqa: BLE001 - whatever the damage, the answer is: train again
        raise _Unusable(f"unreadable, {type(err).__name__}: {str(err)[:80]}") from err
    if not isinstance(blob, dict) or not {"key", "state_dict", "extra"} <= blob.keys():
        raise _Unusable("not a model file of this course")
    state, extra = blob["state_dict"], blob["extra"]
    if not isinstance(state, dict) or not isinstance(extra, dict):
        raise _Unusable("not a model file of this course")
    if not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise _Unusable("not a model file of this course")
    if blob["key"] != key:
        raise _Unusable("it holds another recipe's weights")
    if any(v.is_floating_point() and not torch.isfinite(v).all() for v in state.values()):
        raise _Unusable("it holds NaN or infinite weights")
    with torch.random.fork_rng(devices=[]):
        model = build()
    try:
        model.load_state_dict(state)
    except RuntimeError as err:
        raise _Unusable("its weights do not fit the model") from err
    return model.eval(), extra


def _save(path: Path, key: dict[str, Any], model: nn.Module, extra: dict) -> None:
    """Write atomically: a temporary file in the same folder, then ``os.replace``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    os.close(fd)
    try:
        torch.save({"key": key, "state_dict": model.state_dict(), "extra": extra}, tmp)
        os.chmod(tmp, 0o644)  # mkstemp makes the file private; a model is not a secret
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def cached(
    name: str,
    key: Mapping[str, Any],
    build: Callable[[], nn.Module],
    train: Callable[[], tuple[nn.Module, dict]],
    *,
    directory: str | os.PathLike | None = None,
    log: Log = print,
) -> tuple[nn.Module, dict]:
    """The model ``name`` with ``key``, loaded from the cache or trained -> ``(model, extra)``.

    Args:
        name: the file name's start, for example ``"nb06-vae20"``; also names the model in
            the message.
        key: the recipe fields that decide the weights (a JSON-able dict).
        build: makes the untrained model, to load the stored ``state_dict`` into.
        train: trains the model -> ``(model, extra)``; ``extra`` is a dict stored beside the
            weights (the training history). It runs on ``DEFAULT_THREADS`` threads, and the
            global random state is restored afterwards.
        directory: the cache folder (default: :func:`cache_dir`).
        log: receives the one-line message (``None``: silent).

    Returns:
        The model in eval mode and its ``extra``.
    """
    say = log or (lambda _message: None)
    stored_key = full_key(key)
    path = cache_path(name, key, directory)
    if path.exists():
        try:
            model, extra = _load(path, stored_key, build)
        except _Unusable as err:
            why = f"cached file {shown(path)} is unusable ({err})"
        else:
            say(f"{name}: loaded from {shown(path)}")
            return model, extra
    else:
        why = "no cached weights"
    start = time.perf_counter()
    with torch_threads(DEFAULT_THREADS), torch.random.fork_rng(devices=[]):
        model, extra = train()
    seconds = time.perf_counter() - start
    try:
        _save(path, stored_key, model, extra)
        where = f"saved to {shown(path)}"
    except OSError as err:
        where = (
            f"not saved to {shown(path.parent)} ({err.strerror or type(err).__name__}); "
            f"set ${CACHE_ENV} to a writable folder to keep it"
        )
    say(f"{name}: {why}; trained in {seconds:.1f} s, {where}")
    return model.eval(), extra
