# Copyright (c) d365.identity contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Private to d365.identity: may change in any release.
"""Pure helpers for Entra ID user properties (https://learn.microsoft.com/graph/api/resources/user): no network access."""

from __future__ import annotations

import re

from .._errors import ConfigError

# ISO 3166-1 alpha-2, officially assigned codes (usageLocation).
ISO_3166_ALPHA2 = frozenset("""
AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ BL BM BN BO BQ BR BS BT BV BW BY BZ
CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ DE DJ DK DM DO DZ EC EE EG EH ER ES ET FI FJ FK FM FO FR
GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS GT GU GW GY HK HM HN HR HT HU ID IE IL IM IN IO IQ IR IS IT JE JM JO JP
KE KG KH KI KM KN KP KR KW KY KZ LA LB LC LI LK LR LS LT LU LV LY MA MC MD ME MF MG MH MK ML MM MN MO MP MQ MR MS MT
MU MV MW MX MY MZ NA NC NE NF NG NI NL NO NP NR NU NZ OM PA PE PF PG PH PK PL PM PN PR PS PT PW PY QA RE RO RS RU RW
SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV SX SY SZ TC TD TF TG TH TJ TK TL TM TN TO TR TT TV TW TZ UA UG
UM US UY UZ VA VC VE VG VI VN VU WF WS YE YT ZA ZM ZW
""".split())
# Common mistakes: reserved or non-ISO codes people use for a country.
USAGE_LOCATION_HINTS = {"UK": "GB", "EL": "GR", "EU": None}

# mailNickname: ASCII only, at most 64 characters, none of @ ( ) \ [ ] " ; : < > , or space (Graph user resource).
MAIL_NICKNAME_MAX = 64
_MAIL_NICKNAME_BAD = re.compile(r'[@()\\\[\]";:<>,\s]|[^\x21-\x7e]')


def usage_location(value):
    """The upper-cased ISO 3166 alpha-2 code, or None; ConfigError names the fix."""
    if value is None:
        return None
    code = str(value).strip().upper()
    if code in ISO_3166_ALPHA2:
        return code
    hint = USAGE_LOCATION_HINTS.get(code)
    raise ConfigError(
        "usage_location %r is not an ISO 3166 alpha-2 country code: use two letters such as GB, US or DE%s."
        % (value, " (for %s use %s)" % (code, hint) if hint else ""))


def mail_nickname_from_upn(upn):
    """The UPN's local part with the characters Graph refuses removed (and at most 64 long)."""
    local = str(upn).rpartition("@")[0] or str(upn)
    nickname = _MAIL_NICKNAME_BAD.sub("", local).strip(".")[:MAIL_NICKNAME_MAX].rstrip(".")
    if not nickname:
        raise ConfigError("Cannot derive a mail_nickname from the UPN %r: set mail_nickname "
                          "(ASCII letters, digits, '.', '-', '_')." % upn)
    return nickname


def check_mail_nickname(value):
    if value is None:
        return None
    if not value or len(value) > MAIL_NICKNAME_MAX or _MAIL_NICKNAME_BAD.search(value):
        raise ConfigError(
            "mail_nickname %r is not valid: use 1 to %d ASCII characters without spaces or any of "
            "@ ( ) \\ [ ] \" ; : < > , (for example %r)." % (value, MAIL_NICKNAME_MAX, mail_nickname_from_upn(value + "@x")
                                                             if _MAIL_NICKNAME_BAD.sub("", value) else "svc-d365"))
    return value


def check_upn(value):
    upn = str(value or "").strip()
    local, at, domain = upn.rpartition("@")
    if not at or not local or not domain or " " in upn:
        raise ConfigError("identity %r is not a UPN: write it as name@domain, with a verified domain "
                          "of the tenant (for example svc-d365@contoso.onmicrosoft.com)." % value)
    return upn
