"""catsort's training side: the transfer-learning recipe, the pet gate and TFLite export."""
