# lazypath: activates a tree before any user code runs (see lazypath/_boot.py),
# then runs the sitecustomize this one shadows, if any. This directory is put
# on PYTHONPATH by `lazypath profile` and by the Ray plugin in lazy mode.
import lazypath._boot

lazypath._boot.boot(__file__)
