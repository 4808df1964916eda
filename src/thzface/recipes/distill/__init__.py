"""Recipe ``distill``: see recipe.py."""
