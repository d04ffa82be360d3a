"""The Chinese a clerk reads for the contract's codes on the case pages: agencies, stages, stage kinds, event types
(per agency: 受理 at arbitration is not 受理 at a court), statutory deadlines, confirmation decisions and request
states. tests/unit/test_web_labels.py holds every enum symbol of the .avsc files to a label here. Pure data."""

from __future__ import annotations

AGENCY = {
    "MEDIATION": "调解",
    "ARBITRATION": "仲裁",
    "COURT": "法院",
    "INSPECTION": "监察",
    "NEGOTIATION": "协商",
    "UNKNOWN": "未知",
}
STAGE = {  # cn.casehub.CaseStage
    "NEGOTIATION": "协商",
    "MEDIATION": "调解",
    "PRE_ARBITRATION_MEDIATION": "仲裁前调解",
    "ARBITRATION": "仲裁",
    "LITIGATION": "诉讼",
    "JUDICIAL_CONFIRMATION": "司法确认",
    "ENFORCEMENT": "执行",
    "INSPECTION": "劳动监察",
    "CLOSED": "已结案",
    "UNKNOWN": "未知",
}
KIND = {  # cn.casehub.StageKind
    "NEGOTIATION": "协商和解",
    "MEDIATION_ENTERPRISE": "企业调解",
    "MEDIATION_TOWNSHIP_STREET": "乡镇街道调解",
    "MEDIATION_INDUSTRY_REGIONAL": "行业区域调解",
    "MEDIATION_PEOPLES": "人民调解",
    "MEDIATION_PRE_ARBITRATION": "仲裁前调解",
    "MEDIATION_COURT_DELEGATED": "委派调解",
    "MEDIATION_OTHER": "其他调解",
    "ARBITRATION": "劳动仲裁",
    "LITIGATION_FIRST_INSTANCE": "一审",
    "LITIGATION_APPEAL": "二审",
    "ENFORCEMENT": "执行",
    "INSPECTION": "劳动监察",
    "JUDICIAL_CONFIRMATION": "司法确认",
    "PAYMENT_ORDER": "支付令",
    "OTHER": "其他",
}
DEADLINE = {  # cn.casehub.DeadlineKind
    "MEDIATION_15_DAYS": "调解15日",
    "CONFIRMATION_30_DAYS": "司法确认30日",
    "ARBITRATION_ACCEPT_5_DAYS": "仲裁受理5日",
    "ARBITRATION_AWARD_45_DAYS": "仲裁裁决45日",
    "AWARD_APPEAL_15_DAYS": "起诉15日",
    "SET_ASIDE_30_DAYS": "申请撤销裁决30日",
    "INSPECTION_ACCEPT_5_WORKDAYS": "监察受理5个工作日",
    "INSPECTION_INVESTIGATE_60_WORKDAYS": "监察调查60个工作日",
    "LIMITATION_1_YEAR": "仲裁时效1年",
    "ARBITRATION_REVIEW_15_DAYS": "仲裁审查15日",
    "TRIBUNAL_NOTICE_5_DAYS": "组庭通知5日",
    "CONFIRMATION_ACCEPT_3_DAYS": "司法确认立案3日",
    "CONFIRMATION_RULING_15_DAYS": "司法确认裁定15日",
    "PERFORMANCE_DUE": "履行期限",
    "OTHER": "其他期限",
}
DEADLINE_STATE = {
    "MET": "已满足",
    "MISSED": "已超期",
    "RUNNING": "进行中",
    "NOT_APPLICABLE": "不适用",
    "UNKNOWN": "未知",
}
_SHARED = {"UNKNOWN": "未知事件", "SOURCE_RECORD_DELETED": "源记录已删除"}
EVENT = {  # event types per agency: cn.casehub.<Agency>EventType
    "MEDIATION": {
        "APPLIED": "申请调解",
        "ACCEPTED": "受理调解",
        "REFUSED": "不予受理",
        "SESSION_HELD": "调解会议",
        "AGREEMENT_SIGNED": "签订调解协议",
        "FAILED": "调解不成",
        "WITHDRAWN": "撤回调解申请",
        "AGREEMENT_PERFORMED": "协议已履行",
        "AGREEMENT_DEFAULTED": "协议未履行",
        "REFERRED_TO_ARBITRATION": "引导申请仲裁",
        "AGREEMENT_EFFECTIVE": "调解协议生效",
        "MEDIATION_PERIOD_EXPIRED": "调解期满未结",
        "SETTLEMENT_SIGNED": "签订和解协议",
        "SETTLEMENT_DEFAULTED": "和解协议未履行",
        "PERFORMANCE_NOTICE_ISSUED": "发出履行告知书",
        "FOLLOW_UP_VISIT": "回访",
        "DELEGATED_BY_COURT": "法院委派调解",
        "CONFIRMATION_APPLIED": "申请司法确认",
        "ARBITRATION_REVIEW_APPLIED": "申请仲裁审查",
        "ARCHIVED": "归档",
        **_SHARED,
    },
    "ARBITRATION": {
        "APPLIED": "申请仲裁",
        "ACCEPTED": "仲裁立案受理",
        "REFUSED": "不予受理",
        "REFERRED_TO_PRE_ARBITRATION_MEDIATION": "转仲裁前调解",
        "SETTLED_BY_MEDIATION": "仲裁调解结案",
        "HEARING_SCHEDULED": "排定开庭",
        "AWARD_FINAL": "终局裁决",
        "AWARD_NON_FINAL": "非终局裁决",
        "WITHDRAWN": "撤回仲裁申请",
        "PRE_ARBITRATION_MEDIATION_FAILED": "仲裁前调解不成",
        "TRIBUNAL_FORMED": "组成仲裁庭",
        "HEARING_HELD": "开庭审理",
        "TIME_LIMIT_EXTENDED": "延长审理期限",
        "AWARD_RECEIVED": "裁决书送达",
        "AWARD_EFFECTIVE": "裁决生效",
        "TRANSFERRED": "移送",
        "AGREEMENT_REVIEW_ACCEPTED": "调解协议仲裁审查受理",
        "AGREEMENT_REVIEW_CONFIRMED": "调解协议仲裁审查确认",
        "AGREEMENT_REVIEW_REJECTED": "调解协议仲裁审查不予确认",
        "CLOSED": "仲裁结案",
        **_SHARED,
    },
    "COURT": {
        "FILED": "法院立案",
        "PRE_FILING_MEDIATION": "诉前调解",
        "JUDGMENT": "判决",
        "APPEAL": "上诉",
        "CONFIRMATION_ACCEPTED": "司法确认受理",
        "CONFIRMATION_RULED_VALID": "裁定调解协议有效",
        "CONFIRMATION_REJECTED": "裁定驳回司法确认申请",
        "PAYMENT_ORDER": "发出支付令",
        "ENFORCEMENT": "执行",
        "SET_ASIDE_APPLIED": "申请撤销仲裁裁决",
        "SET_ASIDE_GRANTED": "撤销仲裁裁决",
        "SET_ASIDE_DISMISSED": "驳回撤销裁决申请",
        "PAYMENT_ORDER_APPLIED": "申请支付令",
        "PAYMENT_ORDER_TERMINATED": "支付令终结",
        "CONFIRMATION_RECEIVED": "收到司法确认申请",
        "CONFIRMATION_NOT_ACCEPTED": "司法确认不予受理",
        "CONFIRMATION_EXTENDED": "司法确认延长审查期限",
        "DELEGATED_TO_MEDIATION": "委派调解",
        "ENFORCEMENT_APPLIED": "申请执行",
        "ENFORCEMENT_CLOSED": "执行终结",
        "CASE_CLOSED": "法院结案",
        "IN_TRIAL": "审理中",
        "SETTLED_BY_COURT_MEDIATION": "法院调解结案",
        "WITHDRAWN": "撤诉",
        **_SHARED,
    },
    "INSPECTION": {
        "COMPLAINT_RECEIVED": "收到投诉举报",
        "CASE_OPENED": "监察立案",
        "ORDER_TO_PAY_ISSUED": "责令限期支付",
        "HANDED_OFF_TO_MEDIATION": "转调解",
        "HANDED_OFF_TO_ARBITRATION": "转仲裁",
        "TRANSFERRED_TO_POLICE": "移送公安",
        "CLOSED": "监察结案",
        "COMPLAINT_REFUSED": "投诉不予受理",
        "INVESTIGATION_EXTENDED": "延长调查期限",
        "ORDER_OBEYED": "已按责令支付",
        "ORDER_NOT_OBEYED": "未按责令支付",
        "HANDED_OFF_TO_COURT": "移送法院",
        "PENALTY_IMPOSED": "行政处罚",
        **_SHARED,
    },
}
EVENT["NEGOTIATION"] = EVENT["MEDIATION"]  # settlements travel on the mediation topic
DECISION = {  # casehub.domain.confirmation: what became of an agreement
    "REQUEST": "已生成司法确认申请",
    "SETTLEMENT": "和解协议，不适用司法确认",
    "NOT_EFFECTIVE": "协议尚未生效",
    "NO_CONSENT": "双方未共同申请司法确认",
    "PARTY_MISSING": "缺少劳动者或用人单位，无法共同申请",
    "NOT_IN_ROSTER": "调解组织不在名册中",
    "NOT_LAWFUL": "调解组织非依法设立",
    "AT_COURT": "法院已收到申请",
    "NO_COURT": "无管辖法院",
    "UNDECIDED": "未判定",
}
REQUEST_STATE = {  # the outbox (casehub.domain.confirmation)
    "PENDING": "待投递",
    "WAITING_IDENTITY": "等待身份信息",
    "EXPIRED": "已过期，未发送",
    "DELIVERED": "已送达",
    "REFUSED": "法院拒收",
    "WITHDRAWING": "撤回中，未发送",
    "WITHDRAWN": "已撤回，未发送",
    "REINSTATED": "重新待投递",
}
CONFIRMATION = {  # cn.casehub.ConfirmationState: the case's judicial confirmation
    "NOT_REQUESTED": "未申请",
    "PENDING_DELIVERY": "待投递",
    "DELIVERED": "已送达法院",
    "ACCEPTED": "法院已受理",
    "RULED_VALID": "裁定协议有效",
    "REJECTED": "裁定驳回",
    "EXPIRED": "逾期未申请",
    "UNKNOWN": "未知",
}
ALERT = {  # cn.casehub.AlertKind
    "DEADLINE_APPROACHING": "期限临近",
    "DEADLINE_MISSED": "期限超期",
    "GROUP_DISPUTE": "群体性纠纷",
    "MIGRANT_WAGE_ARREARS": "拖欠农民工工资",
    "AGREEMENT_DEFAULTED": "协议未履行",
    "CONFIRMATION_REJECTED": "司法确认被驳回",
    "CONFIRMATION_NOT_DELIVERED": "司法确认申请送达失败",
    "OTHER": "其他",
}
ANSWER = {
    "RECEIVED": "已收到",
    "ACCEPTED": "已受理",
    "RULED_VALID": "裁定协议有效",
    "REJECTED": "裁定驳回",
    "NOT_ACCEPTED": "不予受理",
}
ROLE = {
    "WORKER": "劳动者",
    "EMPLOYER": "用人单位",
    "APPLICANT": "申请人",
    "RESPONDENT": "被申请人",
    "THIRD_PARTY": "第三人",
    "AGENT": "代理人",
    "REPRESENTATIVE": "代表人",
    "UNKNOWN": "未知",
}
LINK_RULE = {  # cn.casehub.LinkRule
    "EXPLICIT_REFERENCE": "案号引用",
    "PARTY_MATCH": "当事人匹配",
    "PARTY_COVERAGE": "一案多人覆盖",
    "SAME_SOURCE_RECORD": "同一记录",
    "MERGE": "案件合并",
    "CORRECTION": "人工更正",
    "OTHER": "首个事件",
}


def event_cn(agency: str | None, event_type: str | None) -> str:
    """An event type as a clerk reads it at that agency; the code itself when no label is known."""
    if not event_type:
        return ""
    return EVENT.get(agency or "", {}).get(event_type, event_type)


def status_cn(status: str | None) -> str:
    """A case status (`AGENCY:EVENT_TYPE`, or `MERGED_INTO:<case id>`) in Chinese."""
    agency, _, event_type = (status or "").partition(":")
    if agency == "MERGED_INTO":
        return f"已并入 {event_type}"
    if not event_type:
        return status or ""
    return f"{AGENCY.get(agency, agency)} · {event_cn(agency, event_type)}"
