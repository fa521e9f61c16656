# Copyright (c) d365.identity contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations


class ModuleDocFragment:
    DOCUMENTATION = r"""
options: {}
attributes:
  check_mode:
    description: Can run in C(check_mode) and return changed status prediction without modifying target.
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in C(check_mode)), when in diff mode.
  idempotent:
    description:
      - When run twice in a row with the same arguments, the second run reports no change and writes nothing.
"""

    INFO_MODULE = r"""
options: {}
attributes:
  check_mode:
    support: full
    details: This module only reads.
  diff_mode:
    support: N/A
    details: This module only reads.
  idempotent:
    support: full
"""

    # Modules that read more than one service (the read phases): only in the group of every module.
    ACTIONGROUP_ALL = r"""
options: {}
attributes:
  action_group:
    description: Use C(group/d365.identity.all) in C(module_defaults) to set defaults for this module.
    support: full
    membership:
      - d365.identity.all
"""

    ACTIONGROUP_GRAPH = r"""
options: {}
attributes:
  action_group:
    description: Use C(group/d365.identity.all) or C(group/d365.identity.graph) in C(module_defaults) to set defaults for this module.
    support: full
    membership:
      - d365.identity.all
      - d365.identity.graph
"""

    ACTIONGROUP_DATAVERSE = r"""
options: {}
attributes:
  action_group:
    description: Use C(group/d365.identity.all) or C(group/d365.identity.dataverse) in C(module_defaults) to set defaults for this module.
    support: full
    membership:
      - d365.identity.all
      - d365.identity.dataverse
"""
