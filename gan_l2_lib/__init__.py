"""gan_l2_lib: L2 regularization in GANs, derived and measured."""
