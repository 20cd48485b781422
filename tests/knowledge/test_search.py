import json
import subprocess
import sys

import pytest

from bot.knowledge.files import read_all
from bot.knowledge.search import KnowledgeIndex, default_calibration, default_encoder
from tests.conftest import ROOT


@pytest.fixture(scope="module")
def index():
    procedures, _ = read_all(ROOT / "knowledge")
    return KnowledgeIndex(procedures, default_encoder(), calibration=default_calibration())


@pytest.mark.parametrize(
    "query, slug",
    [
        ("Thủ tục đăng ký thường trú gồm những giấy tờ gì?", "thuong-tru"),
        ("lam lai can cuoc bi mat o dau", "can-cuoc"),
        ("e mún làm gks cho con thì lm s ạ", "khai-sinh"),
        ("giấy độc thân", "xac-nhan-tinh-trang-hon-nhan"),
        ("bằng lái hết hạn đổi thế nào", "giay-phep-lai-xe"),
        ("nhập hộ khẩu cho con", "thuong-tru"),
        ("xin phiếu lý lịch tư pháp", "ly-lich-tu-phap"),
    ],
)
def test_finds_the_procedure(index, query, slug):
    assert index.search(query).hits[0].slug == slug


def test_bare_name_is_not_ambiguous(index):
    result = index.search("khai sinh")
    assert result.best.slug == "khai-sinh" and not result.ambiguous


@pytest.mark.parametrize("query", ["thủ tục xin học bổng du học", "giá vàng hôm nay", "cách nấu phở"])
def test_out_of_catalogue_abstains(index, query):
    assert index.search(query).abstain


def test_cli_contract(loaded_db):
    queries = ["đăng ký khai sinh cần giấy tờ gì", "lam lai can cuoc o dau", "thủ tục xin học bổng du học"]
    done = subprocess.run(
        [sys.executable, "-m", "bot", "kb", "search", "--json", "-k", "2"],
        input="\n".join(queries) + "\n",
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
        check=True,
    )
    lines = [json.loads(line) for line in done.stdout.splitlines()]
    assert [line["query"] for line in lines] == queries
    assert lines[0]["results"][0]["slug"] == "khai-sinh" and not lines[0]["abstain"]
    assert lines[2]["abstain"] is True
    assert all(len(line["results"]) <= 2 and isinstance(line["results"][0]["score"], float) for line in lines[:2])
