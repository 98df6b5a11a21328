"""The request pipeline: route resolution, account choice, upstream calls, streaming back."""
