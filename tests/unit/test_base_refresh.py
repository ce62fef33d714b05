"""When the images role makes its debootstrap base again (filter base_refresh_reason)."""
import datetime

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.geostack.kargo.plugins.filter.images import base_refresh_reason, parse_created

BASE = 'geostack-kargo/debian:trixie'
NOW = datetime.datetime(2026, 12, 2, 12, 0, 0, tzinfo=datetime.timezone.utc)


def image(created, tags=(BASE,)):
    return {'RepoTags': list(tags), 'Created': created}


def test_parse_created_takes_nanoseconds_and_offsets():
    assert parse_created('2026-12-02T04:12:33.123456789Z') == datetime.datetime(2026, 12, 2, 4, 12, 33, tzinfo=datetime.timezone.utc)
    assert parse_created('2026-12-02T06:12:33+02:00') == datetime.datetime(2026, 12, 2, 4, 12, 33, tzinfo=datetime.timezone.utc)
    with pytest.raises(AnsibleFilterError):
        parse_created('yesterday')


def test_a_missing_base_is_made():
    assert base_refresh_reason([], BASE, 7, now=NOW) == 'missing'
    assert base_refresh_reason([image('2026-12-02T11:00:00Z', tags=['other/debian:trixie'])], BASE, 7, now=NOW) == 'missing'


def test_a_base_within_the_age_is_kept_an_older_one_made_again():
    assert base_refresh_reason([image('2026-11-26T12:00:00Z')], BASE, 7, now=NOW) == ''
    assert base_refresh_reason([image('2026-11-24T12:00:00Z')], BASE, 7, now=NOW) == \
        'made 8 days ago, older than images_max_age_days (7)'
    # fractions of a day, for short ages
    assert base_refresh_reason([image('2026-12-02T11:59:30Z')], BASE, 0.0001, now=NOW) == \
        'made 30 seconds ago, older than images_max_age_days (0.0001)'


def test_asked_for_refreshes_a_fresh_base_and_zero_never_refreshes_for_age():
    fresh = [image('2026-12-02T11:00:00Z')]
    assert base_refresh_reason(fresh, BASE, 7, refresh=True, now=NOW) == 'asked for (images_refresh)'
    assert base_refresh_reason([image('2020-01-01T00:00:00Z')], BASE, 0, now=NOW) == ''


def test_docker_hub_names_match_their_short_tags():
    assert base_refresh_reason([image('2026-12-02T11:00:00Z', tags=['debian:trixie'])], 'docker.io/library/debian:trixie',
                               7, now=NOW) == ''


def test_a_max_age_that_is_no_number_names_the_setting():
    with pytest.raises(AnsibleFilterError) as error:
        base_refresh_reason([], BASE, 'weekly')
    assert 'images_max_age_days' in str(error.value)
