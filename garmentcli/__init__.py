"""garmentkp: batch garment detection, landmarks, measurements and evaluation (DeepFashion2 layout)."""

__version__ = "0.1.0"
