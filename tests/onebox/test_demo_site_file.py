"""The demo leaves a site file behind, so that `moodlens sql` finds the demo's lake by itself."""

from __future__ import annotations

from pathlib import Path

import pytest

from onebox.config import SiteConfig, load
from onebox.demo import Clip, site_config, write_site_files


def _config(state: Path) -> SiteConfig:
    clips = [Clip("cam-1", Path("/clips/door.mp4"), 12_000), Clip("cam-2", Path('/clips/odd "name".mp4'), 8_000)]
    return site_config(clips, state, 1, 8765)


def test_the_site_file_reads_back_with_the_demos_lake_and_cameras(tmp_path: Path) -> None:
    config = _config(tmp_path / "var" / "demo")
    config.state_dir.mkdir(parents=True)
    written = write_site_files(config, tmp_path)
    assert written == [config.state_dir / "moodlens.toml", tmp_path / "moodlens.toml"]
    for path in written:
        again = load(path)
        assert again.lake_dir == config.lake_dir and again.site_id == config.site_id
        assert [c.source for c in again.cameras] == [c.source for c in config.cameras]
        assert again.get("thresholds", "min_tracks") == 1


def test_a_site_file_already_in_the_working_folder_is_never_replaced(tmp_path: Path) -> None:
    config = _config(tmp_path / "var" / "demo")
    config.state_dir.mkdir(parents=True)
    (tmp_path / "moodlens.toml").write_text("# mine\n")
    assert write_site_files(config, tmp_path) == [config.state_dir / "moodlens.toml"]
    assert (tmp_path / "moodlens.toml").read_text() == "# mine\n"


def test_a_state_outside_the_working_folder_writes_only_there(tmp_path: Path) -> None:
    config = _config(tmp_path / "elsewhere")
    config.state_dir.mkdir(parents=True)
    assert write_site_files(config, tmp_path / "work") == [config.state_dir / "moodlens.toml"]


@pytest.mark.parametrize("zone", ["Mars/Olympus", "", "../../etc/passwd"])
def test_an_unknown_time_zone_in_the_site_file_is_refused_by_name(tmp_path: Path, zone: str) -> None:
    from onebox.config import ConfigError

    path = tmp_path / "moodlens.toml"
    path.write_text(f'[site]\nid = "x"\ntimezone = "{zone}"\n[[cameras]]\nid = "a"\nsource = "0"\n')
    with pytest.raises(ConfigError, match=r"moodlens.toml:3: site.timezone: .* is not an IANA time zone"):
        load(path)


def test_the_sites_time_zone_goes_into_the_lake_for_readers_without_the_site_file(tmp_path: Path) -> None:
    from batch.lake.tables import LakeConfig, lake_sites, open_catalog
    from onebox.lakesites import publish_sites

    config = _config(tmp_path / "state")
    publish_sites(config)
    publish_sites(config)  # again: replaced, not doubled
    table = lake_sites(open_catalog(LakeConfig(root=config.lake_dir)))
    assert table is not None
    assert table.scan().to_arrow().select(["site_id", "timezone"]).to_pylist() == [
        {"site_id": config.site_id, "timezone": config.get("site", "timezone")}]
