"""xlt's Hydra plugins. Hydra instantiates launchers and sweepers only from the ``hydra_plugins``
namespace; the implementations live in xlt.cluster, these are their registered names. Hydra imports this
package before it composes any config, so the ``${xlt.run_id:}`` resolver of ``conf/config.yaml``'s run
and sweep directories is registered here (for launch.py, the compose API and submitit jobs alike)."""

from xlt.utils.run_id import register_run_id_resolver

register_run_id_resolver()
