"""xlt's Hydra plugins. Hydra instantiates launchers and sweepers only from the ``hydra_plugins``
namespace; the implementations live in xlt.cluster, these are their registered names."""
