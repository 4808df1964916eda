"""Recipe ``twin``: see recipe.py."""
