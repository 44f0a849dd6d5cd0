"""Pictures of annotations: overlays of garments on images and contact sheets."""
