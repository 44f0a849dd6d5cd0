"""Reading and writing: images, annotation formats, input lists, atomic outputs."""
