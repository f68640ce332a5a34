#!/usr/bin/env python3
"""Writes the dataset-reader fixture that Tests/ConaclipDataTests/DatasetReader*Tests.swift read.

Run by hand from the repository root (never in CI; needs pillow, e.g. /opt/refenv/bin/python):

    /opt/refenv/bin/python Tests/Reference/make_dataset_fixture.py

Output, in Tests/ConaclipDataTests/Fixtures/datasets/ (about 60 KB, byte-identical on every run):

- images/: red.png (4x3 RGB, pure red), green.png (3x4, pure green), gray.png (2x2 grey 8-bit,
  value 128), blue.jpg (8x8 baseline JPEG of pure blue, written by Pillow) and broken.png (a PNG
  signature followed by garbage: found only at decode time).
- clean.jsonl: the four good pairs (ids red, green, blue, gray) with splits; red has extra keys.
- manifest.jsonl: the same four plus one bad line of each kind: invalid JSON, a missing image
  file, an empty caption, a missing caption key, and the broken image (bad only at decode time).
- manifest.csv / manifest.tsv: OpenCLIP columns (filepath, title) plus id, split and note
  columns; captions with a comma, an escaped quote and a line break; bad rows: wrong field
  count, a missing image file, an empty caption, an unclosed quote (the reader resumes on the
  next line) and the broken image.
- pairs-base64.tsv: EasyNLP layout with a header (id, caption, image): the four good pairs,
  plus a row with invalid base64, a row with two fields, and the broken image's bytes.
- shards/shard-000.tar (red, green) and shards/shard-001.tar (blue, gray): WebDataset
  KEY.png/KEY.jpg + KEY.txt (+ an ignored KEY.json), ustar format.
- bad.tar: sample "ok" (good), "nocaption" (image only), "noimage" (caption only),
  "twoimages" (.png and .jpg), "broken" (broken.png bytes).
- names/: gnu.tar (GNU format; a 150-character member path, so a long-name 'L' entry),
  pax.tar (pax format; a long non-ASCII path, so an 'x' header), ustar.tar (ustar format; a
  140-character path split into the prefix and name fields). Each holds one red sample.
- expected.json: the dataset digest of clean.jsonl (and so of the shards, which hold the same
  ids, captions and image bytes in the same order), computed here from the definition in
  Sources/ConaclipData/Datasets/DatasetDigest.swift with hashlib, independently of the Swift code.
"""
import base64
import hashlib
import io
import json
import os
import struct
import tarfile

from PIL import Image

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "ConaclipDataTests", "Fixtures", "datasets")


def png_bytes(image):
    out = io.BytesIO()
    image.save(out, format="PNG", optimize=False, compress_level=9)
    return out.getvalue()


def jpeg_bytes(image):
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=90, subsampling=0)
    return out.getvalue()


def write(path, data):
    full = os.path.join(ROOT, path)
    os.makedirs(os.path.dirname(full), exist_ok=True)
    mode = "wb" if isinstance(data, bytes) else "w"
    with open(full, mode, **({} if mode == "wb" else {"encoding": "utf-8", "newline": ""})) as f:
        f.write(data)


def add_member(tar, name, data):
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mtime = 0
    info.mode = 0o644
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    tar.addfile(info, io.BytesIO(data))


def write_tar(path, members, fmt=tarfile.USTAR_FORMAT):
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=fmt) as tar:
        for name, data in members:
            add_member(tar, name, data)
    write(path, out.getvalue())


def digest(records):
    """SHA-256 over a version tag, the count, then per record len+id, len+caption, sha256(image)."""
    outer = hashlib.sha256()
    outer.update(b"conaclip-dataset-digest-v1\n")
    outer.update(struct.pack("<Q", len(records)))
    for record_id, caption, image in records:
        for text in (record_id, caption):
            encoded = text.encode("utf-8")
            outer.update(struct.pack("<Q", len(encoded)))
            outer.update(encoded)
        outer.update(hashlib.sha256(image).digest())
    return outer.hexdigest()


def main():
    images = {
        "red.png": png_bytes(Image.new("RGB", (4, 3), (255, 0, 0))),
        "green.png": png_bytes(Image.new("RGB", (3, 4), (0, 255, 0))),
        "gray.png": png_bytes(Image.new("L", (2, 2), 128)),
        "blue.jpg": jpeg_bytes(Image.new("RGB", (8, 8), (0, 0, 255))),
    }
    broken = b"\x89PNG\r\n\x1a\n" + b"this is not a PNG stream" * 4
    for name, data in images.items():
        write("images/" + name, data)
    write("images/broken.png", broken)

    good = [  # id, file, caption, split
        ("red", "red.png", "a red square", "train"),
        ("green", "green.png", "a green square", "train"),
        ("blue", "blue.jpg", "a blue tile", "val"),
        ("gray", "gray.png", "a gray square", "test"),
    ]

    def line(**fields):
        return json.dumps(fields, ensure_ascii=False)

    clean = []
    for record_id, file, caption, split in good:
        fields = {"id": record_id, "image": "images/" + file, "caption": caption, "split": split}
        if record_id == "red":
            fields.update(caption_zh="红色方块", keywords=["red", "square"], same_image_as=[])
        if record_id == "green":
            fields["same_image_as"] = ["gray"]
        clean.append(line(**fields))
    write("clean.jsonl", "\n".join(clean) + "\n")

    manifest = clean[:2] + [
        "",  # blank line: ignored
        '{"id": "oops", "image": "images/red.png", "caption": ',  # line 4: invalid JSON
        line(id="missing", image="images/missing.png", caption="a lost picture", split="train"),  # 5
        line(id="empty", image="images/red.png", caption="   ", split="train"),  # 6
        line(id="nocaption", image="images/red.png", split="train"),  # 7
        line(id="broken", image="images/broken.png", caption="a broken picture", split="train"),  # 8
    ] + clean[2:]  # lines 9, 10
    write("manifest.jsonl", "\r\n".join(manifest) + "\r\n")

    def delimited(sep):
        def row(*fields):
            out = []
            for field in fields:
                if sep in field or '"' in field or "\n" in field:
                    field = '"' + field.replace('"', '""') + '"'
                out.append(field)
            return sep.join(out)
        rows = [
            row("filepath", "title", "id", "split", "note"),  # line 1
            row("images/red.png", "a red square, bright", "red", "train", "first"),  # 2
            row("images/green.png", 'a "green" square', "green", "train", ""),  # 3
            row("images/blue.jpg", "a blue tile\nover two lines", "blue", "val", ""),  # 4-5
            row("images/gray.png", "a gray square", "gray", "test"),  # 6: four fields
            row("images/missing.png", "a lost picture", "missing", "train", ""),  # 7
            row("images/red.png", "", "empty", "train", ""),  # 8
            'images/red.png' + sep + '"never closed' + sep + 'unclosed' + sep + 'train' + sep,  # 9
            row("images/gray.png", "a gray square", "gray", "test", ""),  # 10
            row("images/broken.png", "a broken picture", "broken", "train", ""),  # 11
        ]
        return "\n".join(rows) + "\n"

    write("manifest.csv", delimited(","))
    write("manifest.tsv", delimited("\t"))

    b64 = {name: base64.b64encode(data).decode("ascii") for name, data in images.items()}
    tsv = ["id\tcaption\timage"]
    for record_id, file, caption, _ in good:
        tsv.append(f"{record_id}\t{caption}\t{b64[file]}")
    tsv.insert(3, "badbase64\ta picture\t!!!not base64!!!")  # line 4
    tsv.insert(4, "twofields\t" + b64["red.png"])  # line 5
    tsv.append("broken\ta broken picture\t" + base64.b64encode(broken).decode("ascii"))  # line 8
    write("pairs-base64.tsv", "\n".join(tsv) + "\n")

    def sample(key, file, caption):
        extension = file.rsplit(".", 1)[1]
        return [(f"{key}.{extension}", images[file]), (f"{key}.txt", (caption + "\n").encode("utf-8")),
                (f"{key}.json", json.dumps({"key": key}).encode("utf-8"))]

    write_tar("shards/shard-000.tar", sample("red", "red.png", "a red square") + sample("green", "green.png", "a green square"))
    write_tar("shards/shard-001.tar", sample("blue", "blue.jpg", "a blue tile") + sample("gray", "gray.png", "a gray square"))

    write_tar("bad.tar", [
        ("ok.png", images["red.png"]), ("ok.txt", b"a red square"),
        ("nocaption.png", images["green.png"]),
        ("noimage.txt", b"a caption without a picture"),
        ("twoimages.png", images["red.png"]), ("twoimages.jpg", images["blue.jpg"]), ("twoimages.txt", b"two"),
        ("broken.png", broken), ("broken.txt", b"a broken picture"),
    ])

    gnu_key = "deep/" + "g" * 140 + "/red"
    write_tar("names/gnu.tar", [(gnu_key + ".png", images["red.png"]), (gnu_key + ".txt", b"a red square")],
              fmt=tarfile.GNU_FORMAT)
    pax_key = "tief/" + "ü" * 60 + "/red"
    write_tar("names/pax.tar", [(pax_key + ".png", images["red.png"]), (pax_key + ".txt", b"a red square")],
              fmt=tarfile.PAX_FORMAT)
    ustar_key = "p" * 70 + "/" + "q" * 60 + "/red"
    write_tar("names/ustar.tar", [(ustar_key + ".png", images["red.png"]), (ustar_key + ".txt", b"a red square")],
              fmt=tarfile.USTAR_FORMAT)
    with open(os.path.join(ROOT, "names/ustar.tar"), "rb") as f:
        header = f.read(512)
    assert header[345:350] == b"ppppp", "the ustar path must use the prefix field"

    expected = {
        "clean_digest": digest([(i, c, images[f]) for i, f, c, _ in good]),
        "keys": {"gnu": gnu_key, "pax": pax_key, "ustar": ustar_key},
        "image_sizes": {name: len(data) for name, data in images.items()},
    }
    write("expected.json", json.dumps(expected, indent=2, ensure_ascii=False, sort_keys=True) + "\n")
    print("wrote", ROOT)


if __name__ == "__main__":
    main()
