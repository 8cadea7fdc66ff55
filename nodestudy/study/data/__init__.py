"""The study's data sets: spheres, three minima, the fan, and the image data sets."""
