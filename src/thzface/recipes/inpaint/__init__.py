"""Recipe ``inpaint``: see recipe.py."""
