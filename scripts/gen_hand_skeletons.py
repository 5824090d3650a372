#!/usr/bin/env python3
"""Real hand skeletons for the `hand_defect` test set: MediaPipe's own expected hand-landmarker
results (Apache-2.0, google-ai-edge/mediapipe, mediapipe/tasks/testdata/vision/*.pbtxt) — the
world landmarks (metres) of the hand_landmark_full model on real photographs (thumb up, pointing
up, victory, fist, and the rotated variants), with their handedness label.

    python3 scripts/gen_hand_skeletons.py /path/to/mediapipe-git-checkout

Writes tests/data/hand_skeletons.json: {source, commit, licence, hands: [{file, label, world}]}.
No fixture image shows a hand the landmark model accepts (see scripts/gen_hands_refs.py), so the
warped-hand set of `signals::hands` is built from these skeletons (tests in src/signals/hands.rs).
"""

import json
import pathlib
import re
import subprocess
import sys

FILES = [
    "fist_landmarks.pbtxt",
    "pointing_up_landmarks.pbtxt",
    "pointing_up_rotated_landmarks.pbtxt",
    "thumb_up_landmarks.pbtxt",
    "thumb_up_rotated_landmarks.pbtxt",
    "victory_landmarks.pbtxt",
]
ROOT = pathlib.Path(__file__).resolve().parent.parent


def git(repo, *args):
    return subprocess.run(["git", "--git-dir", str(repo), *args], check=True,
                          capture_output=True, text=True).stdout


def main():
    repo = pathlib.Path(sys.argv[1])
    repo = repo / ".git" if (repo / ".git").exists() else repo
    commit = git(repo, "rev-parse", "HEAD").strip()
    hands = []
    for f in FILES:
        text = git(repo, "show", f"HEAD:mediapipe/tasks/testdata/vision/{f}")
        label = re.search(r'label: "(\w+)"', text).group(1)
        world = text[text.index("world_landmarks"):]
        pts = [[float(v) for v in m] for m in re.findall(
            r"x: (\S+)\s+y: (\S+)\s+z: (\S+)", world)]
        assert len(pts) == 21, (f, len(pts))
        hands.append({"file": f, "label": label, "world": pts})
    out = {
        "source": "github.com/google-ai-edge/mediapipe mediapipe/tasks/testdata/vision/",
        "commit": commit,
        "licence": "Apache-2.0 (Copyright The MediaPipe Authors)",
        "hands": hands,
    }
    path = ROOT / "tests" / "data" / "hand_skeletons.json"
    path.write_text(json.dumps(out, indent=1))
    print(f"{path.relative_to(ROOT)}: {len(hands)} hands, {path.stat().st_size} bytes")


if __name__ == "__main__":
    main()
