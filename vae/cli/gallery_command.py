"""`python -m vae gallery list | delete | export | publish`: the operator's hand on the server's gallery.

    python -m vae gallery list [--dataset digits] [--json]      # every entry: id, name, data set, figures, size
    python -m vae gallery delete ID [ID ...]                   # any entry, whoever owns it
    python -m vae gallery export ID --out DIR                  # the entry as a checkpoint folder (new folder)
    python -m vae gallery publish RUN --name NAME [--note ..]  # a checkpoint folder into the gallery, with figures

The gallery is $VAE_GALLERY_DIR (default ~/.cache/vae-explorer/gallery), or --dir.
"""

from __future__ import annotations

import json
import os
import secrets
import time
from pathlib import Path

from .common import CLIError


def add_gallery_parser(sub) -> None:
    p = sub.add_parser("gallery", help="list, delete, export or publish the models of the server's gallery",
                       description=__doc__.split("\n\n")[0])
    p.add_argument("--dir", default=None, help="the gallery folder (default: $VAE_GALLERY_DIR, else "
                                                "~/.cache/vae-explorer/gallery)")
    gsub = p.add_subparsers(dest="gallery_command", metavar="ACTION", required=True)
    ls = gsub.add_parser("list", help="every entry, newest first")
    ls.add_argument("--dataset", default=None, help="only entries measured on this data set")
    ls.add_argument("--json", action="store_true", help="one JSON object per line instead of a table")
    rm = gsub.add_parser("delete", help="delete entries (the operator may delete anything)")
    rm.add_argument("ids", nargs="+", metavar="ID")
    ex = gsub.add_parser("export", help="write an entry as a checkpoint folder")
    ex.add_argument("id", metavar="ID")
    ex.add_argument("--out", required=True, help="a folder that does not exist yet")
    pub = gsub.add_parser("publish", help="publish a checkpoint folder, measured on its data set's test split")
    pub.add_argument("run", metavar="RUN", help="a checkpoint folder")
    pub.add_argument("--name", required=True)
    pub.add_argument("--note", default="")
    pub.add_argument("--owner-token", default=None,
                     help="the owner's secret (default: a fresh one, so only the operator can delete it)")
    pub.add_argument("--no-figures", action="store_true", help="publish without measuring ELBO and IWAE")


def cmd_gallery(args) -> int:
    from ..gallery import Gallery, GalleryError, gallery_dir

    g = Gallery(Path(args.dir) if args.dir else gallery_dir())
    try:
        if args.gallery_command == "list":
            _list(g, args)
        elif args.gallery_command == "delete":
            for entry_id in args.ids:
                e = g.delete(entry_id, None, operator=True)
                print(f"deleted {e.id} {e.name!r}")
        elif args.gallery_command == "export":
            _export(g, args.id, Path(args.out))
        else:
            _publish(g, args)
    except GalleryError as e:
        raise CLIError(str(e)) from None
    return 0


def _fmt(v, digits: int = 2) -> str:
    return "-" if v is None else f"{v:.{digits}f}"


def _list(g, args) -> None:
    entries = g.list(dataset=args.dataset)
    if args.json:
        for e in entries:
            print(json.dumps({k: v for k, v in e.__dict__.items()}))
        return
    rows = [("id", "name", "data set", "architecture", "test ELBO", "IWAE", "size", "published")]
    for e in entries:
        rows.append((e.id, e.name, e.dataset or "-", e.architecture or "-", _fmt(e.elbo), _fmt(e.iwae),
                     f"{e.size / 2**20:.1f} MB", time.strftime("%Y-%m-%d %H:%M", time.gmtime(e.created))))
    widths = [max(len(str(r[i])) for r in rows) for i in range(len(rows[0]))]
    for r in rows:
        print("  ".join(str(c).ljust(w) for c, w in zip(r, widths)).rstrip())
    print(f"{len(entries)} entries, {g.total_size() / 2**20:.1f} MB")


def _export(g, entry_id: str, out: Path) -> None:
    from ..safeio.atomic_dir import fsync_dir, make_temp_dir

    files = g.files(entry_id)
    if os.path.lexists(out):
        raise CLIError(f"{out} exists; name a new folder")
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = make_temp_dir(out)
    try:
        for name, data in files.items():
            with open(tmp / name, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
        fsync_dir(tmp)
        os.rename(tmp, out)
        fsync_dir(out.parent)
    except BaseException:
        import shutil
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    print(f"exported {entry_id} to {out}")


def _publish(g, args) -> None:
    from ..checkpoint import load_checkpoint_files, read_checkpoint_folder
    from ..gallery.figures import architecture, dataset_name, measure

    run = Path(args.run)
    if not run.is_dir():
        raise CLIError(f"no checkpoint folder at {run}")
    files = read_checkpoint_folder(run)
    model = load_checkpoint_files(files, run.name)
    figures: dict = {}
    if not args.no_figures:
        from .evaluate_command import dataset_for

        dataset = dataset_for(model, None, split="test")[0]
        figures = measure(model, dataset)
    e = g.publish(files, name=args.name, note=args.note, owner_token=args.owner_token or secrets.token_hex(16),
                  dataset=dataset_name(model), architecture=architecture(model), **figures)
    print(f"published {e.id} {e.name!r}: ELBO {_fmt(e.elbo)}, IWAE {_fmt(e.iwae)} (n={e.n_test}, K={e.iwae_k})")
