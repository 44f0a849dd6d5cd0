"""Generated DeepFashion2 ground truth and perturbed predictions for the metric tests (COCO dicts)."""

from __future__ import annotations

import numpy as np

from garmentcli.schema.layout import DF2, NUM_LANDMARKS

CATEGORY_IDS = [c.id for c in DF2.categories]


def make_ground_truth(rng: np.random.Generator, num_images: int = 60, crowd: bool = False) -> dict:
    """A DeepFashion2 COCO document: several garments per image (same category repeated), empty images,
    garments of every size, unlabelled landmarks and garments with no labelled landmark."""
    image_ids = rng.permutation(np.arange(1, 4 * num_images))[:num_images]
    images, annotations = [], []
    for image_id in image_ids.tolist():
        images.append({"id": image_id, "file_name": f"{image_id:06d}.jpg", "width": 800, "height": 600})
        for _ in range(int(rng.choice([0, 1, 1, 2, 3, 5], p=[0.1, 0.3, 0.2, 0.2, 0.1, 0.1]))):
            category = DF2.category(int(rng.choice(CATEGORY_IDS[:5] if rng.random() < 0.6 else CATEGORY_IDS)))
            side = float(rng.choice([20.0, 60.0, 200.0])) * rng.uniform(0.6, 1.6, size=2)
            x, y = rng.uniform(0, 500), rng.uniform(0, 350)
            bbox = [x, y, float(side[0]), float(side[1])]
            points = np.zeros((NUM_LANDMARKS, 3))
            k = category.num_landmarks
            points[category.slice, 0] = x + rng.uniform(0, side[0], k)
            points[category.slice, 1] = y + rng.uniform(0, side[1], k)
            points[category.slice, 2] = rng.choice([0, 1, 2], size=k, p=[0.2, 0.3, 0.5])
            if rng.random() < 0.08:
                points[category.slice] = 0
            labelled = int(np.count_nonzero(points[:, 2] > 0))
            annotations.append(
                {
                    "id": len(annotations) + 1,
                    "image_id": image_id,
                    "category_id": category.id,
                    "bbox": bbox,
                    "area": bbox[2] * bbox[3],
                    "iscrowd": int(crowd and rng.random() < 0.1),
                    "num_keypoints": labelled,
                    "keypoints": points.ravel().tolist(),
                    "scale": int(rng.integers(1, 4)),
                    "occlusion": int(rng.integers(1, 4)),
                    "zoom_in": int(rng.integers(1, 4)),
                    "viewpoint": int(rng.integers(1, 4)),
                }
            )
    categories = [{"id": c.id, "name": c.name, "keypoints": [str(i) for i in range(1, 295)]} for c in DF2.categories]
    return {"images": images, "annotations": annotations, "categories": categories}


def make_results(rng: np.random.Generator, gt: dict, with_box: bool) -> list[dict]:
    """Perturbed copies of the ground truth (noise of several sizes, confused categories, duplicates,
    tied scores), false positives, and one image flooded past maxDets."""
    results = []

    def add(image_id: int, category_id: int, points: np.ndarray, box: np.ndarray, score: float) -> None:
        entry = {"image_id": image_id, "category_id": category_id, "keypoints": points.ravel().tolist()}
        if with_box:
            entry["bbox"] = box.tolist()
        entry["score"] = score
        results.append(entry)

    for ann in gt["annotations"]:
        for _ in range(int(rng.choice([0, 1, 1, 1, 2]))):
            category = DF2.category(ann["category_id"] if rng.random() > 0.1 else int(rng.choice(CATEGORY_IDS)))
            source = np.array(ann["keypoints"]).reshape(NUM_LANDMARKS, 3)
            box = np.array(ann["bbox"])
            noise = rng.choice([0.01, 0.05, 0.15, 0.5]) * np.sqrt(box[2] * box[3])
            points = np.zeros((NUM_LANDMARKS, 3))
            centre = box[:2] + box[2:] / 2
            k = category.num_landmarks
            base = source[category.slice, :2] if category.id == ann["category_id"] else np.tile(centre, (k, 1))
            points[category.slice, :2] = base + rng.normal(0, noise, (k, 2))
            points[category.slice, 2] = rng.uniform(0, 1, k)
            jitter = box + rng.normal(0, noise / 4, 4)
            jitter[2:] = np.abs(jitter[2:]) + 1
            add(ann["image_id"], category.id, points, jitter, float(np.round(rng.uniform(0, 1), 1)))
    images = [i["id"] for i in gt["images"]]
    for _ in range(len(images) // 2):
        category = DF2.category(int(rng.choice(CATEGORY_IDS)))
        box = np.array([rng.uniform(0, 600), rng.uniform(0, 400), rng.uniform(10, 300), rng.uniform(10, 300)])
        points = np.zeros((NUM_LANDMARKS, 3))
        points[category.slice, 0] = box[0] + rng.uniform(0, box[2], category.num_landmarks)
        points[category.slice, 1] = box[1] + rng.uniform(0, box[3], category.num_landmarks)
        add(int(rng.choice(images)), category.id, points, box, float(rng.uniform(0, 1)))
    flooded = gt["annotations"][0]
    for _ in range(110):
        box = np.array(flooded["bbox"]) + rng.normal(0, 5, 4)
        box[2:] = np.abs(box[2:]) + 1
        points = np.array(flooded["keypoints"]).reshape(NUM_LANDMARKS, 3) + rng.normal(0, 3, (NUM_LANDMARKS, 3))
        add(flooded["image_id"], flooded["category_id"], points, box, float(np.round(rng.uniform(0, 1), 2)))
    return results
