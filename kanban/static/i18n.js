// Labels in English and Chinese. The language is ?lang=zh|en, else the browser's language.

const LABELS = {
  en: {
    lines: "Lines",
    factory: "Factory",
    line: "Line",
    board: "Board",
    no_lines: "No line to show yet.",
    shift: "Shift",
    last_8h: "Last 8 h",
    stations: "Stations",
    operators: "Operators",
    materials: "Materials",
    order: "Work order",
    no_order: "No work order",
    target: "Target",
    actual: "Actual",
    expected: "Expected",
    efficiency: "Efficiency",
    remaining: "Remaining",
    projected_finish: "Projected finish",
    order_done: "Done",
    oee: "OEE",
    availability: "Availability",
    performance: "Performance",
    quality: "Quality",
    downtime: "Top downtime",
    no_downtime: "No downtime",
    none: "None",
    no_operator: "No operator checked in",
    no_material: "No material reported",
    shortage: "SHORTAGE",
    low_stock: "LOW",
    present: "present",
    stale_since: "STALE since {time}: reconnecting…",
    feed_lost: "Connection lost",
    live: "Live",
    unauthorized: "Access denied: open this page with a valid ?token=",
    not_found: "No such line",
    andon_banner: "STOPPED TOO LONG",
    no_signal_banner: "NO SIGNAL FROM THE LINE",
    operators_count: "operators",
    alerts: "material alerts",
    slow: "performance (10 min)",
    kanban: "Material kanban",
    kanban_cards: "Kanban cards",
    card_requested: "Requested",
    card_in_transit: "In transit",
    card_delivered: "Delivered",
    card_closed: "Closed",
    advance: "Advance",
    advance_to: "→ {status}",
    awaiting_replenished: "awaiting replenishment",
    no_card: "No card",
    age: "age",
    orders: "Work orders",
    order_queued: "Queued",
    order_running: "Running",
    order_done_card: "Done",
  },
  zh: {
    lines: "产线",
    factory: "工厂",
    line: "产线",
    board: "看板",
    no_lines: "暂无产线。",
    shift: "班次",
    last_8h: "最近 8 小时",
    stations: "工位",
    operators: "人员",
    materials: "物料",
    order: "工单",
    no_order: "无工单",
    target: "目标",
    actual: "实际",
    expected: "应完成",
    efficiency: "达成率",
    remaining: "剩余",
    projected_finish: "预计完成",
    order_done: "已完成",
    oee: "OEE",
    availability: "时间开动率",
    performance: "性能开动率",
    quality: "合格品率",
    downtime: "主要停机原因",
    no_downtime: "无停机",
    none: "无",
    no_operator: "无人员签到",
    no_material: "无物料信息",
    shortage: "缺料",
    low_stock: "低库存",
    present: "在岗",
    stale_since: "数据已过期，自 {time} 起：正在重连…",
    feed_lost: "连接中断",
    live: "实时",
    unauthorized: "无权访问：请使用有效的 ?token= 打开本页",
    not_found: "无此产线",
    andon_banner: "停机超时",
    no_signal_banner: "产线无信号",
    operators_count: "人员",
    alerts: "物料报警",
    slow: "性能（10 分钟）",
    kanban: "物料看板",
    kanban_cards: "补料卡",
    card_requested: "已请求",
    card_in_transit: "配送中",
    card_delivered: "已送达",
    card_closed: "已关闭",
    advance: "推进",
    advance_to: "→ {status}",
    awaiting_replenished: "等待补料确认",
    no_card: "无补料卡",
    age: "已等待",
    orders: "工单",
    order_queued: "排队",
    order_running: "进行中",
    order_done_card: "已完成",
  },
};

// Machine states of the contract (docs/contract.md §3).
const STATES = {
  en: {
    running: "Running",
    idle: "Idle",
    starved: "Starved",
    blocked: "Blocked",
    down: "Down",
    setup: "Setup",
    planned_stop: "Planned stop",
    offline: "Offline",
  },
  zh: {
    running: "运行",
    idle: "空闲",
    starved: "待料",
    blocked: "堵塞",
    down: "故障停机",
    setup: "换型调机",
    planned_stop: "计划停机",
    offline: "离线",
  },
};

// Andon levels: each has a text and a shape besides its colour (colour-blind safe).
const ANDON = {
  en: {
    running: "Running",
    running_slow: "Slow",
    stopped: "Stopped",
    stopped_too_long: "Stopped too long",
    stale: "No signal",
    unknown: "Unknown",
  },
  zh: {
    running: "正常",
    running_slow: "偏慢",
    stopped: "停机",
    stopped_too_long: "停机超时",
    stale: "无信号",
    unknown: "未知",
  },
};

export const ANDON_SHAPES = {
  running: "●",
  running_slow: "▼",
  stopped: "■",
  stopped_too_long: "✖",
  stale: "?",
  unknown: "–",
};

export function chooseLanguage(search = location.search, languages = navigator.languages) {
  const asked = new URLSearchParams(search).get("lang");
  if (asked === "zh" || asked === "en") return asked;
  const preferred = (languages && languages[0]) || navigator.language || "en";
  return preferred.toLowerCase().startsWith("zh") ? "zh" : "en";
}

export const lang = chooseLanguage();

export function t(key, values = {}) {
  const text = LABELS[lang][key] ?? LABELS.en[key] ?? key;
  return text.replace(/\{(\w+)\}/g, (_, name) => String(values[name] ?? ""));
}

export function stateLabel(state) {
  if (state == null) return ANDON[lang].unknown;
  return STATES[lang][state] ?? state;
}

export function cardLabel(status) {
  return t(`card_${status}`);
}

export function orderLabel(status) {
  return t(status === "done" ? "order_done_card" : `order_${status}`);
}

export function andonLabel(level) {
  return ANDON[lang][level] ?? level;
}

export function applyDocumentLanguage() {
  document.documentElement.lang = lang === "zh" ? "zh-CN" : "en";
}
