# -*- coding: utf-8 -*-
# Copyright: geostack.kargo developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters of the images role: why the debootstrap base image is made (again).

Every image built here starts FROM that base and carries its id in its build hash, so
remaking the base rebuilds them all from the distribution's current packages: that is how
a stack left alone picks up Debian's security fixes.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime
import re

from ansible.errors import AnsibleFilterError

# Docker's Created: 2026-12-02T04:12:33.123456789Z (nanoseconds), or with an offset.
_CREATED = re.compile(r'^(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)(?:\.\d+)?(Z|[+-]\d\d:\d\d)$')


def parse_created(text):
    """The UTC datetime of a Docker `Created` timestamp."""
    match = _CREATED.match(str(text or ''))
    if not match:
        raise AnsibleFilterError('not a Docker Created timestamp: %r' % (text,))
    year, month, day, hour, minute, second = (int(part) for part in match.groups()[:6])
    when = datetime.datetime(year, month, day, hour, minute, second, tzinfo=datetime.timezone.utc)
    zone = match.group(7)
    if zone != 'Z':
        sign = 1 if zone[0] == '+' else -1
        when -= sign * datetime.timedelta(hours=int(zone[1:3]), minutes=int(zone[4:6]))
    return when


def _short_name(reference):
    # RepoTags name Docker Hub images without docker.io/ and library/
    return re.sub(r'^library/', '', re.sub(r'^docker\.io/', '', reference))


def base_refresh_reason(images, base, max_age_days, refresh=False, now=None):
    """Why the base image `base` is made now, or '' when it is kept.

    `images`: docker_image_info's `images` (each with RepoTags and Created); `max_age_days`:
    a base older than this is made again (0: never for its age); `refresh`: make it now.
    """
    try:
        max_age_days = float(max_age_days)
    except (TypeError, ValueError):
        raise AnsibleFilterError('images_max_age_days: %r is not a number of days' % (max_age_days,))
    found = [image for image in images or [] if _short_name(base) in (image.get('RepoTags') or [])]
    if not found:
        return 'missing'
    if refresh:
        return 'asked for (images_refresh)'
    if max_age_days <= 0:
        return ''
    now = now or datetime.datetime.now(datetime.timezone.utc)
    age_days = (now - parse_created(found[0].get('Created'))).total_seconds() / 86400.0
    if age_days <= max_age_days:
        return ''
    return 'made %s ago, older than images_max_age_days (%g)' % (_age_text(age_days), max_age_days)


def _age_text(days):
    if days >= 2:
        return '%d days' % days
    if days * 24 >= 2:
        return '%d hours' % (days * 24)
    return '%d seconds' % (days * 86400)


class FilterModule(object):
    def filters(self):
        return {'base_refresh_reason': base_refresh_reason}
