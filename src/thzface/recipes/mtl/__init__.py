"""Recipe ``mtl``: see recipe.py."""
