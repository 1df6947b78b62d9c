"""VOC tags on Chinese text: keywords match whole jieba words, product names stay whole."""

from __future__ import annotations

from analytical_support import days_ago, record, row

TAGS = {
    "refund": ["退款", "refund"],   # a Chinese and an English keyword in one tag
    "delivery": ["快递", "物流"],
    "service": ["客服", "服务"],
    "style": ["款"],                # a one-character word: must not match 退款, 款式, 小米手环款
    "band": ["手环"],               # inside the product name 小米手环 it is not a word
}

TEXTS = [  # comment/text                       hand-counted tags
    ("survey", "comment", "我要退款"),                    # refund
    ("survey", "comment", "快递太慢了，我要退款"),          # refund, delivery
    ("complaint", "text", "客服态度差，物流也慢"),           # service, delivery
    ("survey", "comment", "款式很好看"),                   # (none: 款式 is one word)
    ("survey", "comment", "这款手机不错"),                 # style (这 / 款 / 手机)
    ("complaint", "text", "小米手环的表带断了"),             # (none: 小米手环 is a product name)
    ("survey", "comment", "手环的表带断了"),                # band
    ("survey", "comment", "Please refund me, 退货太麻烦"),  # refund (English keyword)
    ("survey", "comment", "服务很好"),                     # service
    ("complaint", "text", "退款退货都很慢"),                # refund
]


def test_chinese_voc_counts_equal_the_hand_counted_tags(crm):
    crm.plugins.enable("analytical", {"voc_tags": TAGS, "voc_user_words": ["小米手环"]})
    record(crm, [row(f"C{n}", days_ago(3), kind, **{field: text})
                 for n, (kind, field, text) in enumerate(TEXTS)])
    counts = {v.tag: v.count for v in crm.plugin("analytical").voc()}
    assert counts == {"band": 1, "delivery": 2, "refund": 4, "service": 2, "style": 1}


def test_without_the_product_name_the_segmenter_splits_it(crm):
    crm.plugins.enable("analytical", {"voc_tags": {"band": ["手环"]}})
    record(crm, [row("C1", days_ago(3), "survey", comment="小米手环的表带断了")])
    assert [(v.tag, v.count) for v in crm.plugin("analytical").voc()] == [("band", 1)]
