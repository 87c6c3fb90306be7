"""The framework itself: tensor, autograd, layers, losses, data, optimizers and models.

Importing this package (or any of its modules) never changes behaviour: there are no
import-time side effects.
"""
