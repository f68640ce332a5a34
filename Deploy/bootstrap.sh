#!/usr/bin/env bash
# One entry point for a fresh Debian/Ubuntu machine: installs what is missing,
# builds, then runs either the main job or the test suite.
#   bash Deploy/bootstrap.sh main   # the main job on the built-in data
#   bash Deploy/bootstrap.sh test   # the whole test suite
set -euo pipefail
cd "$(dirname "$0")/.."

mode="${1:-}"
case "$mode" in
  main|test) ;;
  *) echo "usage: bash Deploy/bootstrap.sh main|test" >&2; exit 2 ;;
esac

# System packages the code links against or runs.
# The emoji benchmark is built from the Noto Color Emoji font, Unicode emoji data and CLDR.
packages=(libzmq3-dev libopenblas-dev pkg-config libpng-dev libjpeg62-turbo-dev zlib1g-dev
          fonts-noto-color-emoji unicode-data unicode-cldr-core)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "bootstrap: installing ${missing[*]}"
  sudo_cmd=()
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null || { echo "bootstrap: need root or sudo to install ${missing[*]}" >&2; exit 1; }
    sudo_cmd=(sudo)
  fi
  "${sudo_cmd[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

command -v swift >/dev/null || { echo "bootstrap: Swift 6 toolchain not found on PATH (https://www.swift.org/install/)" >&2; exit 1; }

case "$mode" in
  test)
    swift build --build-tests
    swift test --parallel --num-workers 2 2>&1 | tee /tmp/conaclip-test.log
    ;;
  main)
    # The whole mission on real data: the emoji benchmark, the shipped teacher,
    # ConaCLIP distillation with 2 local workers, evaluation and a report.
    swift build -c release --product conaclip
    bin="$(swift build -c release --show-bin-path)/conaclip"
    out="${CONACLIP_MAIN_OUT:-runs/main}"
    teacher=configs/models/teacher-64-emoji
    cache=data/emoji/teacher-64-emoji.train.cache
    started=$(date +%s)
    "$bin" doctor
    echo "== 1/4 emoji benchmark (data/emoji)"
    "$bin" data emoji --out data/emoji --quiet
    echo "== 2/4 the teacher's embeddings of the training split ($cache)"
    "$bin" cache build --teacher "$teacher" --data data/emoji/manifest.jsonl --split train --out "$cache" --workers 2
    echo "== 3/4 ConaCLIP distillation, coordinator + 2 workers ($out/conaclip)"
    # --resume: a finished run stays finished, an interrupted one continues.
    "$bin" launch --workers 2 --config configs/conaclip.yaml --out "$out/conaclip" --resume --progress lines
    echo "== 4/4 evaluation and report ($out/report)"
    "$bin" report --run "$out/conaclip" --teacher "$teacher" --data data/emoji/manifest.jsonl --split test --out "$out/report"
    echo "main job done in $(( $(date +%s) - started )) s (after the build); report: $out/report/report.md"
    ;;
esac
