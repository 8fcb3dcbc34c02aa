"""A synthetic collection of Chinese news sources for benchmarks.

    python benchmarks/synth.py --articles 10000 --out DIR [--seed 1] [--manifest FILE]

writes DIR/*.txt: newspaper pages and web transcriptions that look like the seeds in
content/. Each file holds several articles (headline, sometimes a kicker or a
subheadline, a dateline such as 新华社北京5月5日电 / 本报讯 / 中新社上海3月2日电 or a
closing 据新华社电, body paragraphs of about 1,500 characters per article on average).
Some dispatches are reprinted in 2-4 files with small differences (words substituted,
sentences left out, the end cut), as papers do. The files carry the damage the seeds
show: lines broken every ~20 characters (column OCR), blank lines in mid-sentence (page
breaks), half-width commas, spaces around numbers, English words standing in for
Chinese ones, full-width indents. Some are GB18030, some UTF-8 with a BOM, some have
CRLF line ends; a few are empty, blank or binary and must be skipped.

The text is built from a vocabulary written for this file (no real article is
copied). The output depends only on the seed and the article count: the same
arguments give byte-identical files.

The manifest (JSON) is the ground truth: every file, its encoding and style, its
articles in reading order with their headline and dispatch, the reprint groups and
the files that should be skipped.
"""

from __future__ import annotations

import argparse
import datetime
import json
import random
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

# --------------------------------------------------------------------------------------
# Vocabulary. Each article draws on one domain plus the shared words, so articles on the
# same subject share phrases (as real news does) while numbers, names and places keep
# unrelated articles from looking like reprints of each other.
# --------------------------------------------------------------------------------------

SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈"
    "姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤"
)
GIVEN_NAMES = (
    "伟 芳 娜 敏 静 丽 强 磊 军 洋 勇 艳 杰 娟 涛 明 超 霞 平 刚 宏 文 华 红 晨 颖 琳 鹏 辉 斌 宇 浩 凯 鑫 "
    "建华 志强 海燕 晓东 国庆 春梅 立新 建国 文静 海峰 丽华 志明 晓燕 国华 雪梅 永红 新民 振宇 思远 嘉怡 "
    "子涵 一鸣 明远 卫东 建军 秀兰 玉梅 德胜 爱民 红霞 俊杰 欣然 博文 天宇 雨萱 若曦 振华 少华 光明 晓光"
).split()
TITLES = (
    "负责人", "新闻发言人", "副部长", "司长", "副司长", "局长", "副局长", "主任", "副主任", "研究员", "教授",
    "市长", "副市长", "副省长", "总经理", "董事长", "院长", "党支部书记", "总工程师", "处长", "首席经济学家",
)
CITIES = (
    "北京", "上海", "天津", "重庆", "广州", "深圳", "杭州", "南京", "武汉", "成都", "西安", "郑州", "长沙", "沈阳",
    "哈尔滨", "长春", "济南", "青岛", "福州", "厦门", "南昌", "合肥", "昆明", "贵阳", "南宁", "海口", "兰州", "西宁",
    "银川", "乌鲁木齐", "拉萨", "呼和浩特", "石家庄", "太原", "大连", "宁波", "苏州", "无锡", "温州", "泉州",
    "佛山", "东莞", "珠海", "烟台", "洛阳", "宜昌", "襄阳", "赣州", "桂林", "三亚", "喀什", "大理", "延吉",
)
FOREIGN_CITIES = (
    "维也纳", "日内瓦", "华盛顿", "纽约", "伦敦", "巴黎", "柏林", "东京", "莫斯科", "开罗", "内罗毕", "新德里",
    "雅加达", "曼谷", "河内", "首尔", "悉尼", "巴西利亚", "布宜诺斯艾利斯", "约翰内斯堡", "罗马", "马德里",
)
REGIONS = (
    "广东省", "江苏省", "浙江省", "山东省", "河南省", "四川省", "湖北省", "湖南省", "河北省", "福建省", "安徽省",
    "陕西省", "辽宁省", "江西省", "云南省", "贵州省", "山西省", "吉林省", "黑龙江省", "甘肃省", "海南省",
    "青海省", "广西壮族自治区", "内蒙古自治区", "宁夏回族自治区", "新疆维吾尔自治区", "西藏自治区",
    "北京市", "上海市", "天津市", "重庆市", "长三角地区", "粤港澳大湾区", "京津冀地区", "成渝地区",
    "东北地区", "中西部地区", "沿海地区", "全国", "各地", "我国",
)
DISTRICTS = (
    "浦东新区", "黄浦区", "海淀区", "朝阳区", "天河区", "南山区", "西湖区", "江北区", "武侯区", "雁塔区",
    "开发区", "高新区", "自贸试验区", "经济技术开发区", "新城", "老城区", "城关镇", "东湖街道", "滨江社区",
)

# Characters that make up the names of firms, villages and projects: each article gets
# a few such names of its own and repeats them, as a real report repeats its subject.
NAME_CHARS = (
    "安宁平泰和兴华丰盛源河山湖桥林石青云龙凤金玉新东南西北中长永福康顺通达明光阳海江溪峰岭川田园红绿"
    "春秋星晨远航恒鑫瑞祥嘉元宏德信诚联合众创智汇科锦程益禾沃硕翔腾骏秀丽柏松竹梅兰芝鹤鸿雁泉港湾沙洲"
)
FIRM_TRADES = ("科技", "能源", "物流", "农业", "生物", "新材料", "装备", "电子", "食品", "医药", "文旅", "建设")
FIRM_FORMS = ("有限公司", "集团", "股份有限公司", "合作社", "研究院")
PROJECT_KINDS = (
    "大桥", "产业园", "水库", "示范区", "物流园", "数据中心", "高速公路", "光伏电站", "智慧农场", "港区",
    "湿地公园", "职业学校", "人民医院", "科创中心", "隧道", "污水处理厂",
)
ADVERBS = (
    "进一步", "持续", "全面", "加快", "扎实", "积极", "稳步", "大力", "切实", "统筹", "有序", "深入", "着力",
    "不断", "坚决", "认真", "主动", "精准", "有效",
)
VERBS = (
    "推进", "推动", "加强", "完善", "落实", "深化", "扩大", "优化", "提升", "支持", "保障", "健全", "实施",
    "开展", "强化", "促进", "培育", "建设", "巩固", "稳定", "规范", "改善", "提高", "拓展", "夯实",
)
RESULTS = (
    "取得明显成效", "取得积极进展", "实现稳步增长", "保持平稳运行", "呈现良好态势", "迈出坚实步伐",
    "形成良好局面", "得到有效改善", "发挥了重要作用", "受到群众欢迎", "实现预期目标", "好于市场预期",
    "继续保持领先", "质量明显提高", "结构不断优化", "短板加快补齐",
)
INTROS = (
    "据介绍，", "据了解，", "数据显示，", "统计显示，", "专家认为，", "业内人士表示，", "与此同时，", "此外，",
    "下一步，", "今年以来，", "近年来，", "截至目前，", "值得注意的是，", "总体来看，", "另一方面，", "同时，",
    "记者注意到，", "会议指出，", "会议强调，", "会议要求，", "通知提出，", "意见明确，", "方案提出，",
)
GOALS = (
    "经济社会发展", "高质量发展", "人民群众生产生活", "稳就业保民生", "全面建设社会主义现代化国家",
    "区域协调发展", "乡村全面振兴", "建设美丽中国", "扩大内需", "稳住经济大盘", "构建新发展格局",
)
SUPPORTS = (
    "有力支撑", "坚实保障", "有力保障", "良好环境", "重要支撑", "制度保障", "人才支撑", "资金支持",
)
QUOTES = (
    "现在办事方便多了", "没想到这么快就解决了", "日子越过越有奔头", "心里踏实多了", "我们对未来很有信心",
    "这是实实在在的好事", "大家的干劲更足了", "以前想都不敢想", "政策好，我们更要加油干", "服务就在家门口",
)
MONTH_PHRASES = ("一季度", "上半年", "前三季度", "前两个月", "1至4月", "1至5月", "1至7月", "全年", "去年", "今年")
UNITS = ("亿元", "万亿元", "万吨", "万人", "亿件", "万辆", "亿千瓦时", "万人次", "万标箱", "亿美元", "万户", "公里")
COUNTED = (
    ("个", "项目"), ("家", "企业"), ("所", "学校"), ("个", "村"), ("支", "队伍"), ("条", "线路"),
    ("座", "桥梁"), ("个", "社区"), ("名", "志愿者"), ("家", "医疗机构"), ("个", "试点"), ("项", "措施"),
)


@dataclass(frozen=True)
class Domain:
    """The words of one subject: who acts, on what, what is counted, what happens."""

    name: str
    orgs: tuple[str, ...]
    objects: tuple[str, ...]
    stats: tuple[str, ...]
    events: tuple[str, ...]


DOMAINS = (
    Domain(
        "economy",
        ("国家发展改革委", "财政部", "国家统计局", "中国人民银行", "国务院常务会议", "省政府", "市政府"),
        (
            "高质量发展", "产业链供应链稳定", "扩大有效投资", "消费市场恢复", "市场主体活力", "营商环境",
            "中小微企业纾困", "减税降费政策", "重大项目建设", "民间投资", "现代化产业体系", "数字经济",
            "平台经济规范健康发展", "稳增长政策", "财政资金直达机制", "地方政府专项债券", "县域经济",
        ),
        (
            "社会消费品零售总额", "规模以上工业增加值", "固定资产投资", "一般公共预算收入", "居民人均可支配收入",
            "高技术产业投资", "制造业投资", "新增减税降费", "专项债券发行额",
        ),
        ("发布数据", "召开新闻发布会", "印发通知", "出台实施意见", "举行专题会议"),
    ),
    Domain(
        "trade",
        ("商务部", "海关总署", "国家外汇管理局", "贸促会", "自贸试验区管委会"),
        (
            "外贸保稳提质", "跨境电商", "加工贸易", "服务贸易创新发展", "进口贸易促进", "外资准入",
            "海外仓建设", "通关便利化", "贸易投资自由化便利化", "出口信用保险", "口岸营商环境",
        ),
        ("货物贸易进出口总值", "服务进出口总额", "实际使用外资", "跨境电商进出口额", "出口总额", "进口总额"),
        ("发布统计数据", "举行例行新闻发布会", "公布最新数据", "签署合作协议"),
    ),
    Domain(
        "health",
        ("国家卫生健康委", "国家疾控局", "国家医保局", "卫生健康委员会", "疾控中心", "联防联控机制"),
        (
            "公共卫生体系", "基层医疗卫生服务", "分级诊疗", "医疗资源扩容", "重点人群健康管理", "疫苗接种",
            "慢性病防治", "医疗保障制度", "药品集中采购", "传染病监测预警", "中医药传承创新", "全民健康",
        ),
        ("门诊人次", "家庭医生签约人数", "疫苗接种剂次", "医保基金支出", "基层诊疗量"),
        ("召开新闻发布会", "印发工作方案", "部署专项行动", "开展督导检查"),
    ),
    Domain(
        "agriculture",
        ("农业农村部", "粮食和物资储备局", "供销合作总社", "农业农村厅", "县委县政府"),
        (
            "粮食安全", "乡村振兴", "高标准农田建设", "种业振兴", "耕地保护", "农村人居环境整治",
            "春耕备耕", "夏粮收购", "农业社会化服务", "特色产业发展", "农民增收", "脱贫攻坚成果",
        ),
        ("粮食产量", "夏粮收购量", "农村居民人均可支配收入", "高标准农田面积", "农产品网络零售额"),
        ("召开现场会", "发布公告", "部署春季农业生产", "开展专项检查"),
    ),
    Domain(
        "science",
        ("科技部", "中国科学院", "国家自然科学基金委", "工业和信息化部", "国家知识产权局"),
        (
            "科技创新能力", "关键核心技术攻关", "基础研究", "人工智能应用", "集成电路产业", "科技成果转化",
            "创新平台建设", "知识产权保护", "新型基础设施", "工业互联网", "专精特新企业", "科研人员减负",
        ),
        ("研发经费投入", "发明专利授权量", "技术合同成交额", "高新技术企业数量", "5G基站数量"),
        ("发布成果", "举行启动仪式", "召开工作会议", "发布年度报告"),
    ),
    Domain(
        "transport",
        ("交通运输部", "国家铁路局", "中国民航局", "国家邮政局", "港口集团"),
        (
            "综合交通运输体系", "物流保通保畅", "农村公路建设", "城市轨道交通", "港口集疏运", "航空货运",
            "快递进村", "客运安全", "交通强国建设", "多式联运", "运输服务质量",
        ),
        ("快递业务量", "旅客发送量", "港口集装箱吞吐量", "铁路货物发送量", "民航旅客运输量"),
        ("发布数据", "召开例行新闻发布会", "开通新线路", "启动专项行动"),
    ),
    Domain(
        "environment",
        ("生态环境部", "自然资源部", "水利部", "国家林草局", "中国气象局"),
        (
            "生态环境保护", "绿色低碳转型", "大气污染防治", "水资源管理", "河湖长制", "国土绿化",
            "生物多样性保护", "碳达峰碳中和", "防汛抗旱", "地质灾害防治", "湿地保护", "垃圾分类",
        ),
        ("优良天数比例", "森林覆盖率", "水土流失治理面积", "新能源装机容量", "降水量"),
        ("发布预警", "召开专题会商会", "部署防汛工作", "通报检查情况"),
    ),
    Domain(
        "society",
        ("民政部", "人力资源和社会保障部", "教育部", "住房和城乡建设部", "应急管理部", "公安部"),
        (
            "就业服务", "社会保障体系", "养老服务", "托育服务", "住房保障", "职业技能培训", "义务教育",
            "基层治理", "安全生产", "社会救助", "老旧小区改造", "行政管理服务改革", "平安建设",
        ),
        ("城镇新增就业人数", "参保人数", "改造老旧小区数量", "培训人次", "保障性租赁住房套数"),
        ("印发通知", "召开电视电话会议", "部署专项整治", "公布典型案例"),
    ),
    Domain(
        "culture",
        ("文化和旅游部", "国家文物局", "国家体育总局", "宣传部", "文旅集团"),
        (
            "文旅融合", "文化遗产保护", "公共文化服务", "全民健身", "冰雪运动", "红色旅游", "非遗传承",
            "博物馆建设", "文艺精品创作", "夜间文旅消费", "乡村旅游",
        ),
        ("国内旅游人次", "旅游收入", "博物馆参观人次", "体育场地面积", "演出场次"),
        ("举行开幕式", "发布线路", "启动活动", "召开座谈会"),
    ),
    Domain(
        "energy",
        ("国家能源局", "国家电网", "能源集团", "发展改革委", "电力公司"),
        (
            "能源保供", "新型电力系统", "可再生能源发展", "电网建设", "煤炭清洁高效利用", "油气勘探开发",
            "储能产业", "迎峰度夏", "电力市场建设", "节能降碳",
        ),
        ("发电量", "全社会用电量", "原油产量", "天然气产量", "风电装机容量"),
        ("发布数据", "召开工作会议", "部署保供工作", "举行投产仪式"),
    ),
    Domain(
        "world",
        ("外交部", "联合国", "欧佩克", "世界卫生组织", "国际货币基金组织", "世界贸易组织"),
        (
            "多边合作", "全球发展倡议", "共建“一带一路”", "气候变化应对", "全球粮食安全", "国际产能合作",
            "人文交流", "地区和平稳定", "全球经济复苏", "供应链合作",
        ),
        ("原油日产量", "全球经济增长预期", "双边贸易额", "援助资金", "参会国家数量"),
        ("举行会议", "发表声明", "发布报告", "举行会谈"),
    ),
)

# Pairs a reprinting editor swaps (both directions): the small differences between witnesses.
# 能够 -> 能 only: the other way would break words such as 智能 and 能源.
ONE_WAY_SUBSTITUTIONS = (("能够", "能"), ("进一步", "更加"))
SUBSTITUTIONS = (
    ("指出", "强调"), ("加快", "加速"), ("推进", "推动"), ("加强", "强化"), ("目前", "当前"),
    ("明显", "显著"), ("积极", "主动"), ("确保", "保证"), ("提高", "提升"), ("表示", "说"),
    ("据介绍", "据了解"), ("同比增长", "比上年同期增长"), ("部署", "安排"), ("重要", "关键"), ("工作", "任务"),
    ("要求", "提出"), ("持续", "继续"), ("坚决", "坚定"), ("有关", "相关"), ("近年来", "近些年来"),
)
# English words an OCR or editing pipeline left standing in for Chinese ones (seen in 004).
STAND_INS = (
    ("风险", "risk"), ("和", "and"), ("任务", "task"), ("经济", "economy"), ("政策", "policy"),
    ("企业", "enterprise"), ("措施", "measures"), ("发展", "development"), ("服务", "service"),
)


# --------------------------------------------------------------------------------------
# Records of the collection before it is written.
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Dispatch:
    """One report as its agency sent it."""

    id: str
    domain: Domain
    date: datetime.date
    agency: str  # 新华社, 中新社, 本报, or '' for none
    place: str
    reporters: tuple[str, ...]
    headline: str
    subheadline: str | None
    kicker: str | None
    paragraphs: tuple[str, ...]
    alternative_headlines: tuple[str, ...]


@dataclass(frozen=True)
class Copy:
    """One witness of a dispatch as it stands in one source, before damage."""

    dispatch: Dispatch
    witness: int  # 0 for the dispatch as sent, 1.. for reprints
    headline: str
    subheadline: str | None
    kicker: str | None
    opening: str | None  # the dateline that opens the first paragraph
    closing: str | None  # the line that closes the article (据新华社电)
    paragraphs: tuple[str, ...]
    pull_quotes: tuple[str, ...]


@dataclass
class SourcePlan:
    """One file: its style decides the damage, its encoding the bytes."""

    number: int
    name: str
    style: str  # web | column | indent | halfwidth
    encoding: str  # utf-8 | utf-8-sig | gb18030
    crlf: bool
    copies: list[Copy] = field(default_factory=list)


# --------------------------------------------------------------------------------------
# Writing text.
# --------------------------------------------------------------------------------------


# How often each kind of sentence (see Writer.sentence) is chosen, among those an article uses.
_KIND_WEIGHTS = (14, 10, 10, 5, 6, 3, 4, 6, 8, 7, 7, 10, 8)


class Writer:
    """Sentences, paragraphs and headlines from the vocabulary, driven by one Random."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        # The firm, village, project and person the article in hand is about.
        self.cast: tuple[str, str, str, str] = ("", "", "", "")
        # The article's own palette: a reporter reuses a few turns of phrase, not all of them,
        # and writes about a few subjects of the domain, so two articles share only some words.
        self.intros: tuple[str, ...] = INTROS
        self.results: tuple[str, ...] = RESULTS
        self.adverbs: tuple[str, ...] = ADVERBS
        self.verbs: tuple[str, ...] = VERBS
        self.objects: tuple[str, ...] = ()
        self.kinds: tuple[int, ...] = tuple(range(len(_KIND_WEIGHTS)))

    def name(self, length: int) -> str:
        return "".join(self.rng.choice(NAME_CHARS) for _ in range(length))

    def begin_article(self, domain: Domain) -> None:
        r = self.rng
        self.intros = tuple(r.sample(INTROS, 5))
        self.results = tuple(r.sample(RESULTS, 4))
        self.adverbs = tuple(r.sample(ADVERBS, 5))
        self.verbs = tuple(r.sample(VERBS, 7))
        self.objects = tuple(r.sample(domain.objects, min(5, len(domain.objects))))
        self.kinds = tuple(sorted(r.sample(range(len(_KIND_WEIGHTS)), r.randint(4, 6))))
        self.cast = (
            f"{r.choice(CITIES)}{self.name(2)}{r.choice(FIRM_TRADES)}{r.choice(FIRM_FORMS)}",
            f"{self.name(2)}{r.choice(('村', '社区', '镇', '街道'))}",
            f"{self.name(2)}{r.choice(PROJECT_KINDS)}",
            self.person(),
        )

    def about(self) -> str:
        """Who a sentence is about: often the article's own subject, else anyone."""
        firm, place, project, person = self.cast
        return self.rng.choice((firm, f"{place}", f"{project}项目", firm))

    def person(self) -> str:
        given = self.rng.choice(GIVEN_NAMES)
        return self.rng.choice(SURNAMES) + given

    def number(self) -> str:
        if self.rng.random() < 0.5:
            return str(self.rng.randint(2, 980))
        return f"{self.rng.randint(1, 9999)}.{self.rng.randint(1, 9)}"

    def percent(self) -> str:
        return f"{self.rng.randint(0, 35)}.{self.rng.randint(0, 9)}%"

    def action(self, domain: Domain) -> str:
        return self.rng.choice(self.verbs) + self.rng.choice(self.objects or domain.objects)

    def sentence(self, domain: Domain, year: int) -> str:
        r = self.rng
        org = r.choice(domain.orgs) if r.random() < 0.6 else self.about()
        kind = r.choices(self.kinds, weights=[_KIND_WEIGHTS[k] for k in self.kinds])[0]
        firm, place, project, person = self.cast
        if kind == 11:
            return (
                f"{place}{r.choice(('党支部书记', '负责人', '主任', '村民', '居民'))}{person}介绍，"
                f"{r.choice(('去年', '今年', '这几年', '项目投用后'))}{place}{r.choice(self.objects)}"
                f"{r.choice(self.results)}，{r.randint(2, 90)}户{r.choice(('村民', '居民', '商户'))}"
                f"{r.choice(('直接受益', '实现增收', '有了稳定收入', '办事不再跑远路'))}。"
            )
        if kind == 12:
            return (
                f"在{project}{r.choice(('建设现场', '车间里', '调度中心', '展厅内'))}，{firm}"
                f"{r.choice(('技术人员', '项目经理', '一线职工', '负责人'))}正在{r.choice(self.verbs)}"
                f"{r.choice(self.objects)}，{r.choice(('预计年内完工', '计划明年投产', '已完成总工程量的' + str(r.randint(20, 95)) + '%', '进度比计划提前' + str(r.randint(3, 40)) + '天'))}。"
            )
        if kind == 0:
            return f"{r.choice(self.intros)}{org}{r.choice(self.adverbs)}{self.action(domain)}，{self.action(domain)}，{r.choice(self.results)}。"
        if kind == 1:
            stat = r.choice(domain.stats)
            when = r.choice(MONTH_PHRASES)
            if r.random() < 0.3:
                when = f"{year}年{when}" if when not in ("去年", "今年") else when
            return (
                f"{when}，{r.choice(REGIONS)}{stat}{self.number()}{r.choice(UNITS)}，"
                f"同比增长{self.percent()}，{r.choice(('增速加快', '增幅扩大', '保持增长', '高于全国平均水平', '比上月回升'))}"
                f"{self.rng.randint(1, 9)}.{self.rng.randint(0, 9)}个百分点。"
            )
        if kind == 2:
            return (
                f"{r.choice(REGIONS)}{r.choice(domain.orgs)}{r.choice(TITLES)}{self.person()}表示，"
                f"要{r.choice(self.adverbs)}{self.action(domain)}，{self.action(domain)}，"
                f"为{r.choice(GOALS)}提供{r.choice(SUPPORTS)}。"
            )
        if kind == 3:
            actions = "，".join(self.action(domain) for _ in range(r.randint(2, 4)))
            return f"{r.choice(self.intros)}要{actions}，{r.choice(self.adverbs)}{self.action(domain)}。"
        if kind == 4:
            measure, thing = r.choice(COUNTED)
            return (
                f"在{r.choice(CITIES)}{r.choice(DISTRICTS)}，{r.randint(3, 480)}{measure}{thing}"
                f"{r.choice(self.adverbs)}{self.action(domain)}，{r.choice(self.results)}。"
            )
        if kind == 5:
            firsts = ("一是", "二是", "三是", "四是")
            count = r.randint(2, 4)
            return "".join(f"{firsts[i]}{r.choice(self.adverbs)}{self.action(domain)}，{self.action(domain)}。" for i in range(count))
        if kind == 6:
            return (
                f"{self.person()}是{r.choice(CITIES)}{r.choice(DISTRICTS)}的一名{r.choice(('基层干部', '技术人员', '个体工商户', '社区工作者', '志愿者', '企业职工', '种粮大户'))}，"
                f"{r.randint(2, 30)}年来一直{r.choice(('扎根一线', '坚守岗位', '参与', '从事'))}"
                f"{r.choice(self.objects)}相关工作。"
            )
        if kind == 7:
            return (
                f"截至{r.randint(1, 12)}月底，{r.choice(REGIONS)}累计{r.choice(('完成', '建成', '实施', '投入', '发放'))}"
                f"{r.choice(domain.stats)}{self.number()}{r.choice(UNITS)}，{r.choice(self.results)}。"
            )
        if kind == 8:
            return f"{r.choice(self.intros)}{r.choice(REGIONS)}将{r.choice(self.adverbs)}{self.action(domain)}，推动{r.choice(self.objects)}{r.choice(self.results)}。"
        if kind == 9:
            return (
                f"“{r.choice(QUOTES)}”，{r.choice(CITIES)}{r.choice(DISTRICTS)}居民{self.person()}说，"
                f"{r.choice(('去年', '今年', '前些年', '最近'))}{r.choice(('这里', '村里', '小区', '厂里'))}"
                f"{r.choice(self.objects)}{r.choice(self.results)}。"
            )
        return (
            f"{r.randint(1, 12)}月{r.randint(1, 28)}日，{r.choice(CITIES)}{r.choice(DISTRICTS)}"
            f"{r.choice(domain.events)}，{r.randint(12, 900)}名{r.choice(('代表', '专家', '企业负责人', '基层干部', '群众'))}"
            f"参加，围绕{r.choice(self.objects)}和{r.choice(self.objects)}{r.choice(('交流经验', '展开讨论', '提出建议', '签约合作'))}。"
        )

    def paragraph(self, domain: Domain, year: int, target: int) -> str:
        parts = [self.sentence(domain, year)]
        while sum(len(p) for p in parts) < target:
            parts.append(self.sentence(domain, year))
        return "".join(parts)

    def lead(self, domain: Domain, date: datetime.date, dateline: bool) -> str:
        """The first sentence; without a dateline it must carry the date itself (like 002)."""
        r = self.rng
        org = r.choice(domain.orgs)
        if dateline and r.random() < 0.4:
            return (
                f"记者{date.day}日从{org}获悉，{r.choice(REGIONS)}{r.choice(domain.stats)}"
                f"{self.number()}{r.choice(UNITS)}，同比增长{self.percent()}。"
            )
        return (
            f"{org}{date.month}月{date.day}日{r.choice(domain.events)}，{r.choice(self.adverbs)}{self.action(domain)}，"
            f"{self.action(domain)}。"
        )

    def headline(self, domain: Domain) -> str:
        r = self.rng
        kind = r.randrange(5)
        if kind == 0:
            return f"{r.choice(REGIONS)}{r.choice(self.adverbs)}{self.action(domain)}"
        if kind == 1:
            return f"{r.choice(domain.orgs)}部署{r.choice(self.objects)}工作"
        if kind == 2:
            return f"{r.choice(MONTH_PHRASES)}{r.choice(REGIONS)}{r.choice(domain.stats)}同比增长{self.percent()}"
        if kind == 3:
            return f"{r.choice(CITIES)}{r.choice(self.objects)}{r.choice(self.results)}"
        return f"{self.action(domain)} {self.action(domain)}"

    def kicker(self, domain: Domain) -> str:
        r = self.rng
        if r.random() < 0.5:
            return f"聚焦{r.choice(self.objects)}"
        return f"{r.choice(self.adverbs)}{self.action(domain)}"


def _dispatch(writer: Writer, number: int, rng: random.Random) -> Dispatch:
    domain = rng.choice(DOMAINS)
    start = datetime.date(2019, 1, 1)
    date = start + datetime.timedelta(days=rng.randrange(5 * 365))
    agency = rng.choices(("新华社", "中新社", "本报", ""), weights=(45, 20, 27, 8))[0]
    place = rng.choice(FOREIGN_CITIES if domain.name == "world" else CITIES)
    reporters = tuple(writer.person() for _ in range(rng.choice((0, 0, 0, 1, 2))))
    # Body length: about 1,500 characters on average, from a few hundred to ~3,000.
    target = int(rng.triangular(300, 2700, 1100))
    year = date.year
    writer.begin_article(domain)
    paragraphs = [writer.lead(domain, date, agency != "") + writer.paragraph(domain, year, rng.randint(20, 120))]
    while sum(len(p) for p in paragraphs) < target:
        paragraphs.append(writer.paragraph(domain, year, rng.randint(60, 380)))
    return Dispatch(
        id=f"d{number:06d}",
        domain=domain,
        date=date,
        agency=agency,
        place=place,
        reporters=reporters,
        headline=writer.headline(domain),
        subheadline=writer.headline(domain) if rng.random() < 0.3 else None,
        kicker=writer.kicker(domain) if rng.random() < 0.2 else None,
        paragraphs=tuple(paragraphs),
        alternative_headlines=tuple(writer.headline(domain) for _ in range(3)),
    )


def _opening(dispatch: Dispatch, via: bool) -> str | None:
    """The dateline that opens the first paragraph, in the forms papers print."""
    d = dispatch
    if d.agency == "":
        return None
    reporters = f"（记者{'、'.join(d.reporters)}）" if d.reporters else ""
    if d.agency == "本报":
        if d.reporters and len(d.place) <= 3:
            return f"本报{d.place}{d.date.month}月{d.date.day}日电{reporters}"
        return f"本报讯{reporters}"
    prefix = "据" if via else ""
    return f"{prefix}{d.agency}{d.place}{d.date.month}月{d.date.day}日电{reporters}"


_SENTENCE = re.compile(r"[^。！？]*[。！？]")


def _sentences(paragraph: str) -> list[str]:
    found = _SENTENCE.findall(paragraph)
    rest = paragraph[sum(len(s) for s in found):]
    return found + ([rest] if rest else [])


def _vary(paragraphs: tuple[str, ...], rng: random.Random) -> tuple[str, ...]:
    """A reprint's text: a few words swapped, a sentence dropped here and there, perhaps the end cut."""
    varied: list[str] = []
    for index, paragraph in enumerate(paragraphs):
        sentences = _sentences(paragraph)
        # Leave out a sentence (never the lead, which carries the dateline's facts).
        if index > 0 and len(sentences) > 1 and rng.random() < 0.15:
            del sentences[rng.randrange(len(sentences))]
        text = "".join(sentences)
        # Swap a word for its synonym about once per 400 characters.
        for _ in range(max(1, len(text) // 400)):
            if rng.random() < 0.6:
                if rng.random() < 0.1:
                    old, new = rng.choice(ONE_WAY_SUBSTITUTIONS)
                else:
                    old, new = rng.choice(SUBSTITUTIONS)
                    if rng.random() < 0.5:
                        old, new = new, old
                places = [m.start() for m in re.finditer(re.escape(old), text)]
                if places:
                    at = rng.choice(places)
                    text = text[:at] + new + text[at + len(old):]
        varied.append(text)
    # Abridgement: the end cut, or a few inner paragraphs left out, keeping at least 60%.
    total = sum(len(p) for p in varied)
    if len(varied) > 2 and rng.random() < 0.4:
        if rng.random() < 0.5:
            while len(varied) > 2 and sum(len(p) for p in varied[:-1]) >= 0.6 * total:
                varied.pop()
                if rng.random() < 0.5:
                    break
        else:
            inner = rng.randrange(1, len(varied) - 1)
            if sum(len(p) for p in varied) - len(varied[inner]) >= 0.6 * total:
                del varied[inner]
    return tuple(varied)


def _copies(dispatch: Dispatch, witnesses: int, rng: random.Random) -> list[Copy]:
    copies: list[Copy] = []
    for witness in range(witnesses):
        paragraphs = dispatch.paragraphs if witness == 0 else _vary(dispatch.paragraphs, rng)
        headline = dispatch.headline
        subheadline, kicker = dispatch.subheadline, dispatch.kicker
        opening: str | None = _opening(dispatch, via=False)
        closing: str | None = None
        if witness > 0:
            if rng.random() < 0.5:
                headline = dispatch.alternative_headlines[witness - 1]
                subheadline = dispatch.headline if rng.random() < 0.3 else None
            if dispatch.agency in ("新华社", "中新社"):
                form = rng.choice(("start", "via", "end"))
                if form == "via":
                    opening = _opening(dispatch, via=True)
                elif form == "end":
                    opening, closing = None, f"据{dispatch.agency}电"
        copies.append(
            Copy(dispatch, witness, headline, subheadline, kicker, opening, closing, paragraphs, ())
        )
    return copies


# --------------------------------------------------------------------------------------
# Damage, per source style.
# --------------------------------------------------------------------------------------

_NUMBER_NEAR_HAN = re.compile(r"(?<=[\u4e00-\u9fff])(\d+(?:\.\d+)?%?)|(\d+(?:\.\d+)?%?)(?=[\u4e00-\u9fff])")


def _space_numbers(text: str, rng: random.Random) -> str:
    """Column OCR puts spaces around some numbers: 今年 3 月."""

    def spaced(match: re.Match[str]) -> str:
        number = match.group(0)
        if rng.random() >= 0.3:
            return number
        before = " " if match.start() > 0 and "\u4e00" <= text[match.start() - 1] <= "\u9fff" else ""
        after = " " if match.end() < len(text) and "\u4e00" <= text[match.end()] <= "\u9fff" else ""
        return before + number + after

    return _NUMBER_NEAR_HAN.sub(spaced, text)


def _stand_in(text: str, rng: random.Random) -> str:
    """Replace one Chinese word by an English one, spaced off from the Han text around it."""
    zh, en = rng.choice(STAND_INS)
    # 和 as a conjunction, not the 和 of 碳中和.
    places = [m.start() for m in re.finditer("(?<!中)和" if zh == "和" else zh, text)]
    if not places:
        return text
    at = rng.choice(places)
    left = " " if at > 0 and not text[at - 1] in "，。、；：,:" else ""
    right = " " if at + len(zh) < len(text) and not text[at + len(zh)] in "，。、；：,:" else ""
    return text[:at] + left + en + right + text[at + len(zh):]


def _page_break(paragraph: str, rng: random.Random) -> str:
    """A blank line in mid-sentence, where a page or column ended; now and then a character doubled."""
    if len(paragraph) < 30:
        return paragraph
    at = rng.randrange(8, len(paragraph) - 8)
    while at < len(paragraph) - 1 and paragraph[at - 1] in "。！？":
        at += 1
    doubled = paragraph[at - 1] if rng.random() < 0.05 and "\u4e00" <= paragraph[at - 1] <= "\u9fff" else ""
    return paragraph[:at] + "\n\n" + doubled + paragraph[at:]


_NO_LINE_START = "，。、；：？！”）》"


def _wrap(paragraph: str, width: int, rng: random.Random) -> str:
    """Column OCR: a line break every ``width`` characters, and now and then a blank one."""
    lines: list[str] = []
    start = 0
    while start < len(paragraph):
        end = start + width
        # Typesetting keeps closing punctuation at the end of a line, never at the start.
        while end < len(paragraph) and paragraph[end] in _NO_LINE_START:
            end += 1
        lines.append(paragraph[start:end])
        start = end
        if paragraph[start:start + 1] == " ":  # the space after a dateline never opens a line
            start += 1
    out: list[str] = []
    for i, line in enumerate(lines):
        out.append(line)
        if i < len(lines) - 1:
            out.append("\n\n" if rng.random() < 0.02 else "\n")
    return "".join(out)


def _render_copy(copy: Copy, style: str, width: int, rng: random.Random) -> str:
    paragraphs = list(copy.paragraphs)
    if style == "halfwidth" or rng.random() < 0.03:
        for _ in range(rng.choice((0, 1, 1, 2))):
            i = rng.randrange(len(paragraphs))
            paragraphs[i] = _stand_in(paragraphs[i], rng)
    if style == "halfwidth":
        paragraphs = [p.replace("，", ",").replace("：", ":") for p in paragraphs]
    if style == "column":
        paragraphs = [_space_numbers(p, rng) for p in paragraphs]
    heads: list[str] = []
    if copy.kicker and style != "indent":
        heads.append(copy.kicker)
    headline = copy.headline
    if style == "column" and len(headline) > 12 and " " not in headline and rng.random() < 0.2:
        cut = rng.randint(7, len(headline) - 4)
        headline = headline[:cut] + "\n" + headline[cut:]
    heads.append(headline)
    if copy.subheadline:
        heads.append(copy.subheadline.replace("，", ",") if style == "halfwidth" else copy.subheadline)
    if style == "halfwidth" and len(paragraphs) > 2 and rng.random() < 0.4:
        quotes = [s.rstrip("。") for s in _sentences(paragraphs[1])[:3] if len(s) > 12]
        if quotes:
            heads.append("\n".join(f"- {q}" for q in quotes))
    body: list[str] = []
    for index, paragraph in enumerate(paragraphs):
        # The dateline goes on after the page break is placed, so no break falls inside it;
        # column OCR wraps the dateline with the text, as in 001.
        opening = f"{copy.opening} " if copy.opening and index == 0 else ""
        if style == "column":
            text = _wrap(opening + paragraph, width, rng)
        else:
            text = opening + (_page_break(paragraph, rng) if rng.random() < 0.12 else paragraph)
            if style == "indent":
                text = "\u3000\u3000" + text
        body.append(text)
    if copy.closing:
        body.append(copy.closing)
    if style == "indent":
        # 002's layout: the headline, two blank lines, the kicker right above the indented body.
        top = "\n\n".join(heads) + "\n\n\n" + (copy.kicker + "\n" if copy.kicker else "")
        return top + "\n\n".join(body)
    return "\n\n".join(heads) + "\n\n" + "\n\n".join(body)


def _render_source(plan: SourcePlan, rng: random.Random) -> bytes:
    width = rng.randint(16, 22)
    parts = [_render_copy(copy, plan.style, width, rng) for copy in plan.copies]
    text = ("\n\n" if rng.random() < 0.5 else "") + "\n\n".join(parts) + "\n"
    if plan.crlf:
        text = text.replace("\n", "\r\n")
    if plan.encoding == "utf-8-sig":
        return text.encode("utf-8-sig")
    return text.encode(plan.encoding)


# --------------------------------------------------------------------------------------
# The collection.
# --------------------------------------------------------------------------------------


def _witness_counts(articles: int, reprint_share: float, rng: random.Random) -> list[int]:
    """How many witnesses each dispatch has, adding up to exactly ``articles``."""
    counts: list[int] = []
    left = articles
    while left > 0:
        n = 1
        if rng.random() < reprint_share:
            n = rng.choices((2, 3, 4), weights=(55, 30, 15))[0]
        n = min(n, left)
        counts.append(n)
        left -= n
    return counts


def _place_copies(copies: list[Copy], rng: random.Random) -> list[list[Copy]]:
    """Fill sources of 1-8 articles in order; a source never holds two witnesses of one dispatch."""
    sources: list[list[Copy]] = []
    pending: list[Copy] = []
    queue = list(copies)
    position = 0
    while position < len(queue) or pending:
        size = rng.choice((1, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 8))
        current: list[Copy] = []
        held: set[str] = set()
        waiting = pending
        pending = []
        for copy in waiting:
            if len(current) < size and copy.dispatch.id not in held:
                current.append(copy)
                held.add(copy.dispatch.id)
            else:
                pending.append(copy)
        while len(current) < size and position < len(queue):
            copy = queue[position]
            position += 1
            if copy.dispatch.id in held:
                pending.append(copy)
            else:
                current.append(copy)
                held.add(copy.dispatch.id)
        if not current:  # only clashing copies are left: each gets a source of its own
            current, pending = [pending[0]], pending[1:]
        sources.append(current)
    return sources


@dataclass(frozen=True)
class Collection:
    files: dict[str, bytes]  # file name -> bytes, for every file to write
    manifest: dict[str, object]


def generate(articles: int, seed: int = 1, reprint_share: float = 0.3) -> Collection:
    """The whole synthetic collection in memory: files and manifest."""
    if articles < 1:
        raise ValueError("--articles must be at least 1")
    rng = random.Random(seed)
    writer = Writer(rng)
    copies: list[Copy] = []
    for number, witnesses in enumerate(_witness_counts(articles, reprint_share, rng), start=1):
        dispatch = _dispatch(writer, number, rng)
        copies.extend(_copies(dispatch, witnesses, rng))
    rng.shuffle(copies)
    groups = _place_copies(copies, rng)
    # A few files to be skipped: about one per 400 sources, at least three (one of each kind).
    bad_kinds = ("empty file", "only white space", "not text (contains NUL bytes)")
    bad_count = max(3, len(groups) // 400)
    total = len(groups) + bad_count
    bad_numbers = sorted(rng.sample(range(total), bad_count))
    files: dict[str, bytes] = {}
    sources: list[dict[str, object]] = []
    skipped: list[dict[str, str]] = []
    by_dispatch: dict[str, list[str]] = {}
    group_iter = iter(groups)
    for number in range(total):
        name = f"{number:05d}_{rng.getrandbits(64):016x}.txt"
        if number in bad_numbers:
            kind = bad_kinds[bad_numbers.index(number) % len(bad_kinds)]
            if kind == "empty file":
                files[name] = b""
            elif kind == "only white space":
                files[name] = b" \n\n\t\n  \n"
            else:
                files[name] = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + rng.randbytes(rng.randint(200, 2000))
            skipped.append({"file": name, "reason": kind})
            continue
        group = next(group_iter)
        style = rng.choices(("web", "column", "indent", "halfwidth"), weights=(40, 30, 15, 15))[0]
        encoding = rng.choices(("utf-8", "gb18030", "utf-8-sig"), weights=(78, 12, 10))[0]
        plan = SourcePlan(number, name, style, encoding, crlf=rng.random() < 0.05, copies=group)
        files[name] = _render_source(plan, rng)
        source_id = name.rsplit(".", 1)[0]
        listed = []
        for index, copy in enumerate(group, start=1):
            article_id = f"{source_id}-{index}"
            by_dispatch.setdefault(copy.dispatch.id, []).append(article_id)
            listed.append({
                "id": article_id, "headline": copy.headline, "subheadline": copy.subheadline,
                "kicker": copy.kicker, "dispatch": copy.dispatch.id, "witness": copy.witness,
            })
        sources.append({
            "file": name, "style": style, "encoding": encoding, "crlf": plan.crlf, "articles": listed,
        })
    reprints = {d: sorted(ids) for d, ids in sorted(by_dispatch.items()) if len(ids) > 1}
    manifest: dict[str, object] = {
        "seed": seed,
        "articles": articles,
        "sources": sources,
        "skipped": skipped,
        "dispatches": len(by_dispatch),
        "reprints": reprints,
    }
    return Collection(files, manifest)


def write(collection: Collection, out: Path, manifest: Path | None) -> None:
    """Write the files into ``out`` (which must not hold other .txt files) and the manifest."""
    out.mkdir(parents=True, exist_ok=True)
    stale = sorted(p.name for p in out.iterdir() if p.name not in collection.files)
    if stale:
        raise SystemExit(f"{out}: holds files this collection does not (e.g. {stale[0]}); use an empty folder")
    for name, data in sorted(collection.files.items()):
        (out / name).write_bytes(data)
    if manifest is not None:
        manifest.parent.mkdir(parents=True, exist_ok=True)
        manifest.write_text(json.dumps(collection.manifest, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Write a synthetic collection of Chinese news sources.")
    parser.add_argument("--articles", type=int, required=True, help="how many articles in all (reprints included)")
    parser.add_argument("--out", type=Path, required=True, help="folder to write the source files into")
    parser.add_argument("--seed", type=int, default=1, help="random seed (default 1); same seed, same bytes")
    parser.add_argument("--manifest", type=Path, help="write the ground truth (JSON) here; keep it outside --out")
    parser.add_argument("--reprint-share", type=float, default=0.3, help="share of dispatches reprinted (default 0.3)")
    args = parser.parse_args(argv)
    if args.manifest is not None and args.manifest.resolve().parent == args.out.resolve():
        parser.error("--manifest must not be inside --out (it would be read as a source)")
    collection = generate(args.articles, args.seed, args.reprint_share)
    write(collection, args.out, args.manifest)
    size = sum(len(b) for b in collection.files.values())
    print(
        f"{args.out}: {len(collection.files)} files ({len(collection.manifest['skipped'])} to be skipped), "  # type: ignore[arg-type]
        f"{args.articles} articles, {len(collection.manifest['reprints'])} reprinted dispatches, "  # type: ignore[arg-type]
        f"{size / 1e6:.1f} MB"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
