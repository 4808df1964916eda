"""Recipe ``unmask3d``: see recipe.py."""
