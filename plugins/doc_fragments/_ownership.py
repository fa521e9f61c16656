# Copyright (c) d365.identity contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations


class ModuleDocFragment:
    DOCUMENTATION = r"""
options:
  owner_attribute:
    description:
      - Which of the user's fifteen C(onPremisesExtensionAttributes) holds the collection's ownership mark
        V(d365.identity). A user the collection creates gets the mark in the same request that creates it.
      - The collection writes only to users that carry the mark, unless O(adopt=true). It never overwrites an
        attribute that holds another value. If your organisation uses attribute 15 (for example as an Exchange
        custom attribute), pick a free one and use it for every run.
      - See U(https://learn.microsoft.com/graph/api/resources/onpremisesextensionattributes).
    type: int
    default: 15
    choices: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15]
  adopt:
    description:
      - Allow changes to an existing user that the collection did not create. M(d365.identity.entra_user) marks the
        user in the same request, so the collection manages it from then on; the other modules only allow the change.
      - Without it, a run that would change such a user fails before writing anything; an unmarked user that needs
        no change is left alone and the task reports V(ok).
      - Users synchronised from on-premises Active Directory cannot be marked (their extension attributes are
        read-only in Microsoft Graph) and so cannot be adopted.
    type: bool
    default: false
"""
