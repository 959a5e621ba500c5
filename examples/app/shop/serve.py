"""The shop as a Ray Serve application: `import_path: shop.serve:app`.

examples/kuberay/rayservice.yaml deploys it from a lazypath tree. A GET on
the route prices a small cart and says which code answered (the version and
the file it was imported from), so a rollout to a new digest is visible from
outside.
"""

from __future__ import annotations

import os

from ray import serve

import shop


@serve.deployment(num_replicas=2, ray_actor_options={"num_cpus": 0})
class Shop:
    def __init__(self) -> None:
        self._catalog = shop.load_catalog()

    def __call__(self, request) -> dict:
        cart = shop.Cart(self._catalog).add("espresso", 2).add("mug")
        return {
            "version": shop.version(),
            "total": str(cart.total()),
            "file": shop.__file__,
            "pid": os.getpid(),
        }


app = Shop.bind()
