"""What people read, in Japanese and English: labels, units and number formats.

City staff and workshop participants read Japanese, researchers often English, so every
piece of text that a report or the dashboard shows comes from :data:`TEXT`, one entry
per label with both languages written as a native speaker would write them (not word
for word), and every number goes through :func:`number`, which scales it the way a
reader of the language expects: 万kW, 億円 and 千t-CO₂ in Japanese, MW, million yen and
kt in English. A test checks that the Japanese pages contain none of the English
labels, so a label missing here shows up as an untranslated string.
"""

from __future__ import annotations

import math

LANGUAGES = ("ja", "en")

TEXT: dict[str, dict[str, str]] = {
    # the report's frame
    "report_title": {"ja": "補助制度案の比較", "en": "Subsidy designs compared"},
    "report_subtitle": {
        "ja": "さいたま市ゼロカーボン戦略シミュレーター",
        "en": "Saitama City zero-carbon strategy simulator",
    },
    "baseline": {"ja": "基準ケース", "en": "Baseline"},
    "design": {"ja": "制度案", "en": "Design"},
    "replicates": {"ja": "対になった試行", "en": "Paired runs"},
    "scale": {"ja": "規模", "en": "Scale"},
    "full_city": {"ja": "市全域（全世帯）", "en": "the whole city (every household)"},
    "made_on": {"ja": "作成日時", "en": "Made"},
    "command": {"ja": "実行したコマンド", "en": "Command"},
    "summary_heading": {"ja": "要約", "en": "Summary"},
    "summary_note": {
        "ja": "値は{runs}回の試行の平均、括弧内は90%の幅（5～95パーセンタイル）です。"
        "「増分」は同じ乱数と同じ行動パラメータで走らせた基準ケースとの差を試行ごとに取ったものです。",
        "en": "Values are the mean of {runs} runs, with the 90% band (5th-95th percentile) in brackets. "
        "“Additional” is the difference from the baseline run with the same random numbers and the same "
        "behavioural parameters, taken run by run.",
    },
    "reading_heading": {"ja": "各制度案の読み方", "en": "What each design does"},
    "trajectories_heading": {"ja": "推移", "en": "Trajectories"},
    "differences_heading": {
        "ja": "基準ケースとの差（試行ごとの対の差）",
        "en": "Difference from the baseline, run by run",
    },
    "spending_heading": {"ja": "補助金の支出と予算の消化", "en": "Grant spending and budgets"},
    "adoption_heading": {
        "ja": "技術別・主体別の導入量（2050年度）",
        "en": "Adoption by technology and agent type, FY2050",
    },
    "method_heading": {"ja": "方法と注意点", "en": "Method and caveats"},
    "indicator": {"ja": "指標", "en": "Indicator"},
    "level_value": {"ja": "値", "en": "Value"},
    "what_it_tests": {"ja": "ねらい", "en": "What it tests"},
    "additional": {"ja": "増分", "en": "Additional"},
    "not_applicable": {"ja": "—", "en": "—"},
    "no_grants": {"ja": "市の補助なし", "en": "no city grants"},
    "nothing_added": {"ja": "増分なし", "en": "adds nothing"},
    "dominant": {"ja": "支出が減り効果は増加", "en": "more for less money"},
    "none_ran_out": {"ja": "予算を使い切った年度なし", "en": "never ran out"},
    "fiscal_year": {"ja": "年度", "en": "Fiscal year"},
    "programme": {"ja": "補助制度", "en": "Programme"},
    "runs_out_years": {"ja": "予算を使い切った年度", "en": "Fiscal years the budget ran out"},
    "stops_running_out": {"ja": "使い切らなくなった年度", "en": "Years it no longer runs out"},
    "starts_running_out": {"ja": "新たに使い切るようになった年度", "en": "Years it now runs out"},
    "median_date": {"ja": "使い切った日（中央値）", "en": "Run-out date (median)"},
    "share_of_runs": {"ja": "使い切った試行の割合", "en": "Share of runs"},
    "runout_note": {
        "ja": "2026～2050年度のうち、半数以上の試行で予算を使い切った年度です。日付は、そのうち最初の年度に"
        "使い切った日の中央値です。",
        "en": "Fiscal years of FY2026-2050 in which at least half the runs ran out of budget; the date is the "
        "median run-out date in the first of them.",
    },
    "free_rider_count_note": {
        "ja": "件数はモデル上の主体の数です（縮小規模で走らせた場合は市全体の数になりません）。"
        "割合は全試行を合計して求めています。",
        "en": "Counts are of simulated agents (at a reduced scale, not the whole city's); shares pool every run.",
    },
    "quarter_months": {"ja": "4月 7月 10月 1月", "en": "Apr Jul Oct Jan"},
    # indicators
    "renewable_energy_tj_2030": {"ja": "再エネ量 2030年度", "en": "Renewable energy, FY2030"},
    "renewable_energy_tj_2050": {"ja": "再エネ量 2050年度", "en": "Renewable energy, FY2050"},
    "agent_pv_generation_tj_2030": {
        "ja": "うち市民・事業者・農家の太陽光 2030年度",
        "en": "of which agents' PV, FY2030",
    },
    "agent_pv_generation_tj_2050": {
        "ja": "うち市民・事業者・農家の太陽光 2050年度",
        "en": "of which agents' PV, FY2050",
    },
    "co2_kt_2030": {"ja": "CO₂排出量 2030年度", "en": "CO₂ emissions, FY2030"},
    "co2_kt_2050": {"ja": "CO₂排出量 2050年度", "en": "CO₂ emissions, FY2050"},
    "co2_kt_2026_2050": {"ja": "CO₂排出量 2026～2050年度の累計", "en": "CO₂ emissions summed over FY2026-2050"},
    "co2_avoided_t_2026_2050": {
        "ja": "CO₂削減量（基準ケース比、2026～2050年度の累計）",
        "en": "CO₂ avoided against the baseline, FY2026-2050",
    },
    "agent_pv_kw_2050": {"ja": "太陽光の設備容量 2050年度（全主体）", "en": "PV capacity of all agents, FY2050"},
    "residential_pv_kw_2050": {"ja": "住宅用太陽光（自己所有）", "en": "Household PV, owned"},
    "household_ppa_kw_2050": {"ja": "住宅のPPA（初期費用ゼロ）", "en": "Household PPA (zero upfront)"},
    "business_pv_kw_2050": {"ja": "事業所の太陽光（自己所有）", "en": "Business PV, owned"},
    "business_ppa_kw_2050": {"ja": "事業所のPPA", "en": "Business PPA"},
    "solar_sharing_kw_2050": {"ja": "ソーラーシェアリング", "en": "Solar sharing"},
    "residential_pv_systems_2050": {"ja": "住宅用太陽光（自己所有）", "en": "Household PV, owned"},
    "household_ppa_contracts_2050": {"ja": "住宅のPPA契約", "en": "Household PPA contracts"},
    "zeh_houses_2050": {"ja": "ZEH（ネット・ゼロ・エネルギー・ハウス）", "en": "ZEH (net-zero energy houses)"},
    "evs_2050": {"ja": "電気自動車（世帯）", "en": "Household EVs"},
    "business_pv_systems_2050": {"ja": "事業所の太陽光（自己所有）", "en": "Business PV, owned"},
    "business_ppa_contracts_2050": {"ja": "事業所のPPA契約", "en": "Business PPA contracts"},
    "solar_sharing_farms_2050": {"ja": "ソーラーシェアリング導入農家", "en": "Farms with solar sharing"},
    "city_grants_yen_2026_2050": {"ja": "市の補助金支出（2026～2050年度）", "en": "City grants paid, FY2026-2050"},
    "prefecture_grants_yen_2026_2050": {
        "ja": "県の補助金支出（2026～2050年度）",
        "en": "Prefecture grants paid, FY2026-2050",
    },
    "national_grants_yen_2026_2050": {
        "ja": "国の補助金支出（2026～2050年度）",
        "en": "National grants paid, FY2026-2050",
    },
    "city_grants_2026_2050": {"ja": "市の補助件数（2026～2050年度）", "en": "City grants awarded, FY2026-2050"},
    "free_rider_share": {"ja": "フリーライダー率（市の補助すべて）", "en": "Free-rider share, all city grants"},
    "free_rider_share_changed": {
        "ja": "フリーライダー率（制度案が変えた補助）",
        "en": "Free-rider share, grants the design changes",
    },
    "free_riders_by_technology": {"ja": "技術別のフリーライダー", "en": "Free riders by technology"},
    "no_grant_changed": {"ja": "補助の変更なし", "en": "no grant changed"},
    "city_yen_per_additional_kw": {"ja": "追加1kWあたりの市の追加支出", "en": "Extra city money per additional kW"},
    "city_yen_per_additional_t_co2": {
        "ja": "CO₂削減1トンあたりの市の追加支出",
        "en": "Extra city money per tonne of CO₂ avoided",
    },
    "capacity": {"ja": "設備容量", "en": "Capacity"},
    "adopters": {"ja": "導入数", "en": "Adopters"},
    "households": {"ja": "世帯", "en": "Households"},
    "businesses": {"ja": "事業所", "en": "Businesses"},
    "farmers": {"ja": "農家", "en": "Farmers"},
    "agents": {"ja": "主体", "en": "Agents"},
    "technology": {"ja": "技術", "en": "Technology"},
    "pv": {"ja": "太陽光（自己所有）", "en": "PV (owned)"},
    "ppa": {"ja": "PPA", "en": "PPA"},
    "zeh": {"ja": "ZEH", "en": "ZEH"},
    "ev": {"ja": "電気自動車", "en": "EV"},
    "solar_sharing": {"ja": "ソーラーシェアリング", "en": "Solar sharing"},
    "granted_agents": {"ja": "市の補助を受けた数", "en": "Granted a city grant"},
    "free_riders": {"ja": "うちフリーライダー", "en": "of whom free riders"},
    "city": {"ja": "市", "en": "City"},
    "prefecture": {"ja": "県", "en": "Prefecture"},
    "national": {"ja": "国", "en": "National"},
    # figures
    "fig_renewable": {
        "ja": "再エネ量（TJ/年）と2050年度目標",
        "en": "Renewable energy (TJ a year) and the FY2050 target",
    },
    "fig_agent_pv": {"ja": "市民・事業者・農家の太陽光発電量（TJ/年）", "en": "Agents' PV generation (TJ a year)"},
    "fig_co2": {"ja": "CO₂排出量（千t-CO₂/年）", "en": "CO₂ emissions (kt a year)"},
    "fig_pv_capacity": {"ja": "太陽光の設備容量（万kW）", "en": "PV capacity of all agents (MW)"},
    "fig_city_grants": {"ja": "市の補助金支出（億円/年）", "en": "City grants paid (million yen a year)"},
    "fig_prefecture_grants": {"ja": "県の補助金支出（億円/年）", "en": "Prefecture grants paid (million yen a year)"},
    "fig_national_grants": {"ja": "国の補助金支出（億円/年）", "en": "National grants paid (million yen a year)"},
    "fig_diff_pv": {"ja": "太陽光の設備容量の増分（万kW）", "en": "Additional PV capacity (MW)"},
    "fig_diff_co2": {"ja": "CO₂排出量の差（千t-CO₂/年）", "en": "Difference in CO₂ emissions (kt a year)"},
    "fig_diff_city": {"ja": "市の補助金支出の差（億円/年）", "en": "Difference in city grants (million yen a year)"},
    "fig_runout": {"ja": "{programme}：予算を使い切った日", "en": "{programme}: the day its budget ran out"},
    "target_line": {"ja": "2050年度目標 37,954 TJ", "en": "FY2050 target, 37,954 TJ"},
    "net_zero_path": {"ja": "実質ゼロへの直線経路", "en": "Straight path to net zero"},
    "did_not_run_out": {"ja": "年度内に使い切らず", "en": "did not run out"},
    "band_label": {"ja": "線は平均、帯は90%の幅", "en": "line: mean; band: 90% of runs"},
    "zero_line": {"ja": "差なし", "en": "no difference"},
    # the plain-language paragraphs
    "para_pv_more": {
        "ja": "{baseline}と比べると、2050年度の太陽光の設備容量は{kw}増え（90%の幅：{band}）、",
        "en": "Against {baseline}, it adds {kw} of PV capacity by FY2050 (90% band {band})",
    },
    "para_pv_less": {
        "ja": "{baseline}と比べると、2050年度の太陽光の設備容量は{kw}減り（90%の幅：{band}）、",
        "en": "Against {baseline}, it has {kw} less PV capacity in FY2050 (90% band {band})",
    },
    "para_pv_same": {
        "ja": "{baseline}と比べて、2050年度の太陽光の設備容量は変わらず、",
        "en": "Against {baseline}, it leaves the PV capacity in FY2050 as it is",
    },
    "para_co2_less": {
        "ja": "2026～2050年度のCO₂排出量は累計で{t}減ります（同：{band}）。",
        "en": " and avoids {t} of CO₂ over FY2026-2050 (band {band}).",
    },
    "para_co2_more": {
        "ja": "2026～2050年度のCO₂排出量は累計で{t}増えます（同：{band}）。",
        "en": " and adds {t} of CO₂ over FY2026-2050 (band {band}).",
    },
    "para_co2_same": {
        "ja": "2026～2050年度のCO₂排出量も変わりません。",
        "en": " and changes no CO₂ emissions over FY2026-2050.",
    },
    "para_renewable": {
        "ja": "2050年度の再エネ量は{tj}で、目標37,954 TJの{share}にあたります。",
        "en": "Renewable energy in FY2050 is {tj}, {share} of the 37,954 TJ target.",
    },
    "para_sure_more": {
        "ja": "{runs}回の対になった試行の90%の幅がゼロをまたがないので、太陽光が増える効果は確かです。",
        "en": "Over {runs} paired runs the 90% band stays above zero: the design surely adds PV.",
    },
    "para_sure_less": {
        "ja": "{runs}回の対になった試行の90%の幅がゼロをまたがないので、太陽光が減る効果は確かです。",
        "en": "Over {runs} paired runs the 90% band stays below zero: the design surely loses PV.",
    },
    "para_unsure": {
        "ja": "{runs}回の対になった試行の90%の幅がゼロをまたいでおり、太陽光への効果は試行ごとのばらつきと"
        "見分けられません。試行を増やすか、効果はごく小さいと考えてください。",
        "en": "Over {runs} paired runs the 90% band includes zero: the effect on PV cannot be told apart from "
        "the spread between runs. Run more replicates, or read the effect as small.",
    },
    "para_spending_more": {
        "ja": "市の補助金支出（2026～2050年度）は{yen}で、基準ケースより{extra}多くなります。",
        "en": "The city pays {yen} in grants over FY2026-2050, {extra} more than in the baseline.",
    },
    "para_spending_less": {
        "ja": "市の補助金支出（2026～2050年度）は{yen}で、基準ケースより{extra}少なくなります。",
        "en": "The city pays {yen} in grants over FY2026-2050, {extra} less than in the baseline.",
    },
    "para_spending_same": {
        "ja": "市の補助金支出（2026～2050年度）は{yen}で、基準ケースと同じです。",
        "en": "The city pays {yen} in grants over FY2026-2050, as in the baseline.",
    },
    "scale_share": {
        "ja": "市全体の{percent}（1主体が{weight}主体を代表）",
        "en": "{percent} of the city (each agent stands for {weight})",
    },
    "para_cost": {
        "ja": "追加の支出は、太陽光1kWの上積みあたり{per_kw}、CO₂削減1トンあたり{per_t}です。",
        "en": "The extra money comes to {per_kw} per additional kW of PV and {per_t} per tonne of CO₂ avoided.",
    },
    "para_cost_saving": {
        "ja": "市の支出が減ったうえで太陽光が増えており、費用対効果では基準ケースより有利です。",
        "en": "It adds PV while the city pays less: it does better than the baseline on both counts.",
    },
    "para_no_gain": {
        "ja": "平均では太陽光を上積みしないため、1kWあたりの費用は計算できません。",
        "en": "On average it adds no PV, so there is no cost per additional kW.",
    },
    "para_free_riders": {
        "ja": "市の補助を受けた人のうち{share}は、補助がなくても{window}か月以内に同じ設備を導入していたと推計されます"
        "（フリーライダー）。",
        "en": "Of those who received a city grant, {share} would have adopted the same technology within "
        "{window} months without it (free riders).",
    },
    "para_free_riders_changed": {
        "ja": "制度案が変えた補助（{technologies}）を受けた人のうち{share}は、補助がなくても{window}か月以内に"
        "同じ設備を導入していたと推計されます（フリーライダー）。",
        "en": "Of those who received the city grants this design changes ({technologies}), {share} would have "
        "adopted the same technology within {window} months without it (free riders).",
    },
    "para_no_grants": {
        "ja": "この制度案では市の補助金を支払わないため、フリーライダー率はありません。",
        "en": "This design pays no city grants, so there is no free-rider share.",
    },
    "para_runout_stops": {
        "ja": "{programme}は、基準ケースでは予算を使い切っていた{years}年度に、使い切らなくなります。",
        "en": "{programme} no longer runs out of budget in FY{years}, where it did in the baseline.",
    },
    "para_identical": {
        "ja": "この制度案は基準ケースとすべての試行で同じ結果になりました（差はゼロ）。",
        "en": "This design gave the same result as the baseline in every run (no difference).",
    },
    # method notes
    "method_pairing": {
        "ja": "各制度案は基準ケースと同じ乱数の種と、校正済みの行動パラメータの同じ抽出で走らせています"
        "（共通乱数法）。そのため、差は偶然ではなく制度の違いから生じます。",
        "en": "Each design runs on the same random seeds and the same draws of the calibrated behavioural "
        "parameters as the baseline (common random numbers), so differences come from the design, not chance.",
    },
    "method_band": {
        "ja": "90%の幅は試行のばらつき（偶然と行動パラメータの不確かさ）を示し、"
        "価格や技術の将来像などシナリオの前提の不確かさは含みません。",
        "en": "The 90% band shows the spread over runs (chance and the uncertainty of the behavioural "
        "parameters). It does not include the uncertainty of the scenario's assumptions about prices or "
        "technology.",
    },
    "method_free_riders": {
        "ja": "フリーライダー：制度案の試行で市の補助を受けた主体のうち、対になる基準ケースの試行で、"
        "補助を受けて導入した月から{window}か月以内（それ以前も含む）に同じ技術を導入していた主体の割合。"
        "ZEHは太陽光を備えるため、太陽光の導入にも数えます。",
        "en": "Free riders: of the agents who received a city grant in the design run, the share who adopted "
        "the same technology in the paired baseline run no later than {window} months after the month they "
        "adopted with the grant (earlier included). A ZEH carries PV and counts as PV adopted.",
    },
    "method_cost": {
        "ja": "費用対効果：2026～2050年度の市の支出の増分を、2050年度の太陽光の設備容量の増分、"
        "または2026～2050年度のCO₂削減量で割ったもの（平均どうしの比。幅は試行の再標本化による）。",
        "en": "Cost-effectiveness: the extra city money over FY2026-2050 divided by the additional PV capacity in "
        "FY2050, or by the CO₂ avoided over FY2026-2050 (a ratio of means; the band resamples the runs).",
    },
    "method_cannot": {
        "ja": "このモデルが言えないこと：補助金の財源の使い道のほかの効果、事業者の価格設定の変化、"
        "国・県の制度の将来の変更。これらはシナリオの前提として置いています。",
        "en": "What the model cannot say: what else the money could do, how installers would change their "
        "prices, or how national and prefectural grants will change; these are the scenario's assumptions.",
    },
}

# the workshop dashboard (abm/app.py)
TEXT.update(
    {
        "dash_title": {"ja": "さいたま市 ゼロカーボン・シミュレーター", "en": "Saitama zero-carbon simulator"},
        "dash_language": {"ja": "言語", "en": "Language"},
        "dash_scenario": {"ja": "シナリオ・制度案", "en": "Scenario or design"},
        "dash_measures": {"ja": "市の施策", "en": "The city's measures"},
        "dash_run_settings": {"ja": "実行の設定", "en": "Run settings"},
        "dash_seed": {"ja": "乱数の種", "en": "Random seed"},
        "dash_scale": {"ja": "規模", "en": "Scale"},
        "dash_scale_full": {"ja": "市全域（約64万世帯）", "en": "Whole city (about 640,000 households)"},
        "dash_scale_workshop": {"ja": "1/20（速い）", "en": "1/20 (faster)"},
        "dash_run": {"ja": "2050年度まで表示", "en": "Show to FY2050"},
        "dash_step": {"ja": "1年進める", "en": "One year on"},
        "dash_reset": {"ja": "2014年度に戻す", "en": "Back to FY2014"},
        "dash_showing": {"ja": "{year}年度までを表示中", "en": "Showing up to FY{year}"},
        "dash_pin": {"ja": "この結果をピン留め", "en": "Pin this run"},
        "dash_unpin": {"ja": "ピン留めを外す", "en": "Unpin"},
        "dash_pinned_note": {
            "ja": "点線はピン留めした結果です。数字の下は、ピン留めした結果との差です。",
            "en": "Dotted lines are the pinned run; under each number is the difference from it.",
        },
        "dash_vs_pinned": {"ja": "ピン留め比 {value}", "en": "{value} vs pinned"},
        "dash_obligation_on": {"ja": "新築住宅への太陽光設置義務", "en": "PV obligation on new houses"},
        "dash_not_in_scenario": {
            "ja": "（このシナリオには該当する制度がありません）",
            "en": "(not part of this scenario)",
        },
        "dash_error": {"ja": "設定を読み込めません", "en": "These settings cannot be used"},
        "dash_headline_renewable": {"ja": "再エネ量 {year}年度", "en": "Renewable energy, FY{year}"},
        "dash_to_target": {"ja": "目標まで {value}", "en": "{value} short of the target"},
        "dash_target_met": {"ja": "目標達成（{value}超過）", "en": "Target met ({value} over)"},
        "dash_headline_agents": {"ja": "うち市民・事業者・農家の太陽光", "en": "of which agents' PV"},
        "dash_headline_co2": {"ja": "CO₂排出量 {year}年度", "en": "CO₂ emissions, FY{year}"},
        "dash_vs_2013": {"ja": "2013年度比 {value}", "en": "{value} against FY2013"},
        "dash_headline_pv": {"ja": "太陽光の設備容量", "en": "PV capacity"},
        "dash_headline_evs": {"ja": "電気自動車（世帯）", "en": "Household EVs"},
        "dash_headline_city_yen": {"ja": "市の補助金（累計）", "en": "City grants, to date"},
        "dash_fig_adoption": {"ja": "技術別の導入量", "en": "Adoption by technology"},
        "dash_fig_added": {"ja": "住宅用太陽光の年間導入量（kW）", "en": "Household PV added a year (kW)"},
        "dash_observed": {"ja": "実績（FIT公表データ）", "en": "Observed (FIT portal)"},
        "dash_simulated": {"ja": "シミュレーション", "en": "Simulated"},
        "dash_fig_stock": {"ja": "太陽光の設備容量（万kW）", "en": "PV capacity (MW)"},
        "dash_fig_zeh_ev": {"ja": "ZEHと電気自動車（千）", "en": "ZEH and EVs (thousands)"},
        "dash_fig_renewable": {"ja": "再エネ量（TJ/年）：電源別と目標", "en": "Renewable energy (TJ a year) by source"},
        "dash_fig_co2": {
            "ja": "CO₂排出量（千t-CO₂/年）と実質ゼロへの経路",
            "en": "CO₂ (kt a year) and the path to net zero",
        },
        "dash_fig_spending": {"ja": "補助金の支出（億円/年）", "en": "Grants paid (million yen a year)"},
        "dash_fig_runout": {"ja": "予算を使い切った日", "en": "The day each budget ran out"},
        "dash_fig_network": {
            "ja": "近所のつながり（{n}世帯）：{year}年度の導入状況",
            "en": "A neighbourhood of {n} households: who has what in FY{year}",
        },
        "dash_none": {"ja": "未導入", "en": "none yet"},
        "kt_unit": {"ja": "千t-CO₂", "en": "kt CO₂"},
        "dash_yen_unit": {"ja": "億円", "en": "million yen"},
        "dash_observed_ghg": {"ja": "2017年度の実績", "en": "Observed, FY2017"},
        "dash_estimated_2013": {"ja": "2013年度（推計）", "en": "FY2013 (estimated)"},
        "agent_pv_generation_tj": {"ja": "市民・事業者・農家の太陽光", "en": "Agents' PV"},
        "waste_to_energy_tj": {"ja": "廃棄物発電", "en": "Waste to energy"},
        "biogas_tj": {"ja": "バイオガス", "en": "Biogas"},
        "renewable_heat_tj": {"ja": "再エネ熱", "en": "Renewable heat"},
        "carbon_neutral_fuels_tj": {"ja": "カーボンニュートラル燃料", "en": "Carbon-neutral fuels"},
        "procurement_other_cities_tj": {"ja": "他都市からの調達", "en": "Procured from other cities"},
        "offsets_tj": {"ja": "オフセット", "en": "Offsets"},
        "large_pv_tj": {"ja": "大規模太陽光", "en": "Large ground-mounted PV"},
        # the measures' sliders (abm.dashboard.measures)
        "pv_grant_yen_per_kw": {"ja": "住宅用太陽光の補助（円/kW）", "en": "Household PV grant (yen/kW)"},
        "pv_grant_budget_yen": {
            "ja": "住宅用太陽光の補助予算（億円/年）",
            "en": "Household PV budget (million yen a year)",
        },
        "zeh_grant_yen": {"ja": "ZEHの補助（万円/戸）", "en": "ZEH grant (thousand yen a house)"},
        "ev_grant_yen": {"ja": "電気自動車の補助（万円/台）", "en": "EV grant (thousand yen a car)"},
        "ppa_promotion_maturity_boost": {
            "ja": "PPAの普及促進（事業者の到達率の上乗せ、%）",
            "en": "PPA promotion (providers' extra reach, %)",
        },
        "joint_purchase_cost_reduction": {"ja": "共同購入による値下げ率（%）", "en": "Joint purchase: price cut (%)"},
        "education_base_rate_multiplier": {
            "ja": "環境教育（検討を始める率、倍）",
            "en": "Education campaign (rate of considering, times)",
        },
        "pv_obligation_fiscal_year": {"ja": "太陽光設置義務の開始年度", "en": "PV obligation from fiscal year"},
        "solar_sharing_grant_yen_per_kw": {
            "ja": "ソーラーシェアリングの補助（円/kW）",
            "en": "Solar-sharing grant (yen/kW)",
        },
        "solar_sharing_base_rate_multiplier": {
            "ja": "ソーラーシェアリングの普及支援（倍）",
            "en": "Solar-sharing support (times)",
        },
        "business_target_setting_multiplier": {
            "ja": "事業者の目標設定制度（倍）",
            "en": "Business target-setting (times)",
        },
    }
)

# per unit: (Japanese scales, English scales), each largest first: (at least, divide by, suffix)
SCALES: dict[str, tuple[tuple[tuple[float, float, str], ...], tuple[tuple[float, float, str], ...]]] = {
    "tj": (((0, 1, " TJ"),), ((0, 1, " TJ"),)),
    "kt": (((0, 1, "千t-CO₂"),), ((0, 1, " kt CO₂"),)),
    "t": (((1e4, 1e4, "万t-CO₂"), (0, 1, " t-CO₂")), ((1e3, 1e3, " kt CO₂"), (0, 1, " t CO₂"))),
    "kw": (((1e4, 1e4, "万kW"), (0, 1, " kW")), ((1e3, 1e3, " MW"), (0, 1, " kW"))),
    "yen": (
        ((1e8, 1e8, "億円"), (1e4, 1e4, "万円"), (0, 1, "円")),
        ((1e9, 1e9, " billion yen"), (1e6, 1e6, " million yen"), (0, 1, " yen")),
    ),
    "yen_per_kw": (((1e4, 1e4, "万円/kW"), (0, 1, "円/kW")), ((0, 1, " yen/kW"),)),
    "yen_per_t": (((1e4, 1e4, "万円/t-CO₂"), (0, 1, "円/t-CO₂")), ((0, 1, " yen/t CO₂"),)),
    "count": (((1e4, 1e4, "万"), (0, 1, "")), ((0, 1, ""),)),
    "share": (((0, 0.01, "%"),), ((0, 0.01, "%"),)),
}


# how figures and charts scale an axis for a reader of the language: kW in 万kW or MW,
# yen in 億円 or million yen; other units as they are
AXIS_SCALES = {"kw": {"ja": 1e-4, "en": 1e-3}, "yen": {"ja": 1e-8, "en": 1e-6}}


def axis_scale(unit: str, lang: str) -> float:
    """The factor an axis in ``unit`` is drawn with for a reader of ``lang``."""
    return AXIS_SCALES.get(unit, {}).get(lang, 1.0)


def text(key: str, lang: str, **values: object) -> str:
    """The label ``key`` in ``lang``, with ``values`` filled in."""
    if lang not in LANGUAGES:
        raise ValueError(f"language must be one of {', '.join(LANGUAGES)}, got {lang!r}")
    return TEXT[key][lang].format(**values)


def _scale(unit: str, lang: str, magnitude: float) -> tuple[float, str]:
    for at_least, divisor, suffix in SCALES[unit][LANGUAGES.index(lang)]:
        if magnitude >= at_least:
            return divisor, suffix
    raise AssertionError("every scale list ends at 0")


def _digits(size: float, divisor: float) -> int:
    """Decimals that keep about three significant figures after scaling."""
    scaled = size / divisor
    if divisor == 1 or scaled >= 100 or scaled == 0:
        return 0
    return 1 if scaled >= 10 else 2


def number(value: float | None, unit: str, lang: str, signed: bool = False, magnitude: float | None = None) -> str:
    """``value`` in ``unit`` for a reader of ``lang``; ``magnitude`` picks the scale
    (so that a band's ends share the mean's), ``signed`` writes a + on gains."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return text("not_applicable", lang)
    divisor, suffix = _scale(unit, lang, abs(value) if magnitude is None else magnitude)
    size = abs(value) if magnitude is None else magnitude
    digits = (1 if size < 0.1 else 0) if unit == "share" else _digits(size, divisor)
    body = f"{value / divisor:{'+' if signed else ''},.{digits}f}"
    if body.lstrip("+-").strip("0.,") == "":
        body = body.lstrip("+-")  # no sign on a zero
    return body + suffix


def range_text(b: dict[str, float], unit: str, lang: str) -> str:
    """A band's ends in one scale with the unit once: ``5,619～6,413 kW``."""
    magnitude = max(abs(b["p5"]), abs(b["p95"]))
    _, suffix = _scale(unit, lang, magnitude)
    low, high = (number(b[k], unit, lang, magnitude=magnitude).removesuffix(suffix) for k in ("p5", "p95"))
    return f"{low}～{high}{suffix}" if lang == "ja" else f"{low} to {high}{suffix}"


def band_text(b: dict[str, float | None] | None, unit: str, lang: str, signed: bool = False) -> str:
    """A mean with its 90% band, all in the mean's scale: ``36,989 TJ（36,400～37,600）``."""
    if b is None or b.get("mean") is None:
        return text("not_applicable", lang)
    ends = [x for x in (b.get("p5"), b.get("p95")) if x is not None]
    magnitude = max(abs(b["mean"]), *(abs(x) for x in ends)) if ends else abs(b["mean"])
    main = number(b["mean"], unit, lang, signed, magnitude)
    if len(ends) < 2:
        return main
    low, high = (number(x, unit, lang, signed, magnitude) for x in ends)
    _, suffix = _scale(unit, lang, magnitude)
    low, high = low.removesuffix(suffix), high.removesuffix(suffix)
    return f"{main}（{low}～{high}）" if lang == "ja" else f"{main} ({low} to {high})"
