"""Clinical content of the generator: diagnosis profiles with ICD-10 / ICD-9-CM-3 codes and the
catalogue items each profile uses.

The code sets are a small hand-written table of common codes (written for yibao, no third-party
data): ICD-10 diagnosis codes and ICD-9-CM-3 procedure codes, both without dots, as Chinese claims
carry them.  Items are named by catalogue code (services, labs, exams, materials) or by code prefix
(drugs: the national drug code embeds the ATC class, e.g. ``XC08`` calcium-channel blockers, ``ZZA12``
TCM blood-activating patent medicines, ``T`` decoction pieces).  Codes a region's catalogue does not
have are skipped, so the table works with any catalogue that shares the national code scheme.
"""

from __future__ import annotations

from dataclasses import dataclass, field

# Age bands used by every age-dependent weight in the generator: [0,5) [5,15) [15,30) [30,45) [45,60) [60,75) [75,∞)
AGE_BANDS = (0, 5, 15, 30, 45, 60, 75)
N_BANDS = len(AGE_BANDS)

ALL = (1.0,) * 7
CHILD = (3.0, 2.0, 0.3, 0.2, 0.2, 0.2, 0.2)
ADULT = (0.0, 0.1, 1.0, 1.0, 1.0, 1.0, 1.0)
MID = (0.0, 0.0, 0.3, 1.0, 1.5, 1.5, 1.2)
ELDER = (0.0, 0.0, 0.1, 0.3, 1.0, 2.0, 2.5)
REPRO = (0.0, 0.0, 1.0, 1.0, 0.05, 0.0, 0.0)
INFANT = (6.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0)
YOUNG = (0.5, 1.5, 2.0, 1.0, 0.6, 0.4, 0.3)

# --------------------------------------------------------------------------- catalogue codes used by name
REG = "001101000010000"  # 挂号费 (丙类)
CONSULT = "001102000010000"
CONSULT_DEPUTY = "001102000020000"
CONSULT_CHIEF = "001102000030000"
CONSULT_ER = "001103000010000"
CONSULT_IP = "001104000010000"
CONSULT_PRIMARY = "001102000050000"
CONSULT_NET = "016101000020000"
BED_3 = "001109000010000"
BED_2 = "001109000020000"
BED_1 = "001109000030000"
BED_ICU = "001109000050000"
BED_NEO = "001109000060000"
NURSE_2 = "001201000040000"
NURSE_1 = "001201000030000"
NURSE_NEO = "001201000060000"
GA = "003301000020000"
LA = "003301000010000"

CBC, URINE, STOOL = "002501010010000", "002501020010000", "002501030010000"
PT, APTT, DDIMER = "002502030010000", "002502030020000", "002502030030000"
ALT, AST, TBIL, ALB = "002503050010000", "002503050020000", "002503050030000", "002503010010000"
CREA, UREA, UA = "002503070010000", "002503070020000", "002503070030000"
GLU, HBA1C = "002503020010000", "002503020020000"
TC, TG, LDL, ELEC = "002503030010000", "002503030020000", "002503030030000", "002503040010000"
CRP, PCT, TNI, BNP = "002504010010000", "002504010020000", "002503060010000", "002503060020000"
HBSAG, TSH, FT4, PSA, CEA, HCG = (
    "002504030010000",
    "002504040010000",
    "002504040020000",
    "002504050010000",
    "002504050020000",
    "002504040030000",
)
BGA, CULT, SENS, VAG, EGFR = (
    "002503100010000",
    "002505010010000",
    "002505020010000",
    "002501040010000",
    "002708000010000",
)

DR, CT, CT_ENH, MRI, MRI_ENH, PET = (
    "002101020010000",
    "002103000010000",
    "002103000020000",
    "002102000010000",
    "002102000020000",
    "002300000010000",
)
MAMMO, US, ECHO, TVUS, TRUS = (
    "002101020020000",
    "002202010010000",
    "002206000010000",
    "002203010010000",
    "002203020010000",
)
ECG, HOLTER, ABPM, EEG, PFT = (
    "003107010020000",
    "003107010030000",
    "003108000010000",
    "003101000010000",
    "003106000010000",
)
GASTRO, COLONO, CAG, FUNDUS, DXA = (
    "003109020010000",
    "003109030010000",
    "003203000010000",
    "002208000010000",
    "002305000010000",
)
GYN, TCT, HEARING = "003112010010000", "002703000010000", "003110000020000"

IM, IV, INFUSION, SCALP = "001204000010000", "001204000020000", "001204000030000", "001204000040000"
DRESS, NEBUL, OXY, CATH = "001205000010000", "001206000010000", "001208000010000", "001209000010000"
ECGMON, DIALYSIS, IMRT, REHAB = "003107010010000", "003110000010000", "002403000010000", "003402000010000"
ACU, MOXA, CUP, TUINA = "004300000010000", "004300000020000", "004500000010000", "004400000010000"

M_INFSET, M_SYRINGE, M_CANNULA, M_GAUZE = (
    "C11621230683313000161010000",
    "C41113624428646000261010000",
    "C73795341337855000361010000",
    "C45808099355428000461010000",
)
M_CATHKIT, M_ETT, M_SUTURE, M_SPLINT = (
    "C89262177185824000561010000",
    "C17696451031933000661010000",
    "C91729196882228000761010000",
    "C12907340514189000861010000",
)
M_CVC, M_PICC, M_DES, M_BALLOON, M_PACER = (
    "C23830193396296000961010000",
    "C24948738510279001061010000",
    "C84712169949592001161010000",
    "C11228906921827001261010000",
    "C12774253875058001361010000",
)
M_HIP, M_KNEE, M_IOL, M_STAPLER, M_TROCAR = (
    "C81920606781477001461010000",
    "C27076448787265001561010000",
    "C11069501155997001661010000",
    "C10824317033213001861010000",
    "C13847358923963001961010000",
)
M_PLATE, M_SCREW, M_MESH, M_VSD, M_DIALYSER = (
    "C13687329105500002061010000",
    "C51122534314128002161010000",
    "C28386572563776002261010000",
    "C12907150061045002361010000",
    "C86347995517853002461010000",
)
M_PEN, M_STRIP, M_STOCKING = (
    "C47059345044959002561010000",
    "C74627239799052002661010000",
    "C98022957911141002761010000",
)

# generic pools every profile falls back on
GENERIC_LABS = (CBC, URINE, CRP, ALT, CREA, GLU, ELEC)
GENERIC_IP_LABS = (CBC, URINE, STOOL, PT, APTT, ALT, AST, TBIL, ALB, CREA, UREA, GLU, ELEC, CRP, HBSAG)
GENERIC_EXAMS = (DR, US, ECG)
GENERIC_IP_SERVICES = (INFUSION, IV, IM, OXY)
GENERIC_IP_MATERIALS = (M_INFSET, M_SYRINGE, M_CANNULA, M_GAUZE)
GENERIC_DRUGS = (
    "XB05",
    "XA02BC",
    "XN02BE",
    "XR05CB",
    "XA11",
)  # fluids, PPIs, paracetamol, ambroxol, vitamins
GENERIC_PHARMACY = ("XR06", "XN02BE", "XM01AE", "ZZA01", "ZZA06", "XA07", "XD06")


@dataclass(frozen=True)
class Surgery:
    """One operation: ICD-9-CM-3 codes (principal first), the fee items and implants it bills."""

    procedures: tuple[str, ...]
    items: tuple[str, ...]  # operation fee(s); anaesthesia is added by ``general``
    implants: tuple[str, ...] = ()
    general: bool = True
    min_level: int = 2  # rank (1, 2, 3, 4 = 3S) the hospital must have


@dataclass(frozen=True)
class Profile:
    key: str
    dx: tuple[str, ...]  # ICD-10 without dots; the principal diagnosis is drawn from these
    age_w: tuple[float, ...] = ALL
    sex: str | None = None
    min_age: int = 0
    max_age: int = 200
    w_op: float = 0.0  # relative weight among acute outpatient visits (11)
    w_ip: float = 0.0  # among admissions (21)
    w_rx: float = 0.0  # among pharmacy purchases (41)
    prevalence: tuple[float, ...] | None = None  # chronic: share of people by age band carrying it
    mt: bool = False  # chronic condition recognised for 门诊慢特病 (14)
    drugs: tuple[str, ...] = ()
    labs: tuple[str, ...] = ()
    exams: tuple[str, ...] = ()
    services: tuple[str, ...] = ()
    materials: tuple[str, ...] = ()  # outpatient / pharmacy supplies
    surgeries: tuple[Surgery, ...] = ()
    p_surg: float = 0.0
    los: float = 7.0  # median length of stay (days)
    intensity: float = 1.0  # inpatient drug intensity
    ip_procedure: str | None = None  # a non-surgical procedure coded on every admission (chemo …)


PROFILES: tuple[Profile, ...] = (
    # ---------------------------------------------------------------- respiratory
    Profile(
        "uri",
        ("J069", "J029", "J039", "J00", "R509"),
        YOUNG,
        w_op=14,
        w_rx=10,
        drugs=(
            "XJ01CA",
            "XJ01DC",
            "XJ01FA",
            "ZZA01",
            "ZZA03",
            "XR05CB",
            "XN02BE",
            "XM01AE",
            "XR06",
            "XJ05AB",
        ),
        labs=(CBC, CRP),
        exams=(),
    ),
    Profile(
        "influenza",
        ("J111", "J101"),
        YOUNG,
        w_op=2.5,
        w_rx=1,
        drugs=("XJ05AH", "ZZA01", "XN02BE", "XM01AE"),
        labs=(CBC, CRP),
    ),
    Profile(
        "bronchitis",
        ("J209", "J40", "J210"),
        CHILD,
        w_op=5,
        w_rx=2,
        w_ip=2,
        drugs=("XJ01CA", "XJ01DC", "XJ01FA", "XR05CB", "XR03BA", "ZZA03", "XR03AC"),
        labs=(CBC, CRP),
        exams=(DR,),
        services=(NEBUL, INFUSION, SCALP),
        los=5,
    ),
    Profile(
        "pneumonia",
        ("J189", "J159", "J181"),
        (3.0, 1.0, 0.2, 0.2, 0.5, 1.5, 3.0),
        w_op=1.5,
        w_ip=10,
        drugs=(
            "XJ01DD",
            "XJ01MA",
            "XJ01FA",
            "XJ01DH",
            "XJ01XA",
            "XJ01AA",
            "XR05CB",
            "XB05",
            "XH02AB",
            "XA02BC",
        ),
        labs=(CBC, CRP, PCT, BGA, CULT, SENS, ALT, CREA, ELEC),
        exams=(DR, CT),
        services=(INFUSION, NEBUL, OXY, IV, ECGMON),
        los=9,
        intensity=1.1,
    ),
    Profile(
        "copd",
        ("J449", "J441", "J459"),
        (0.0, 0.3, 0.3, 0.4, 1.0, 2.0, 3.0),
        w_op=2,
        w_ip=5,
        w_rx=2,
        prevalence=(0.0, 0.003, 0.004, 0.006, 0.02, 0.05, 0.08),
        mt=True,
        drugs=("XR03AK", "XR03BB", "XR03AC", "XR03BA", "XR03DC", "XJ01DD", "XJ01MA", "XH02AB", "XR05CB"),
        labs=(CBC, CRP, BGA, ELEC),
        exams=(DR, CT, PFT),
        services=(NEBUL, OXY, INFUSION),
        los=9,
    ),
    # ---------------------------------------------------------------- cardiovascular and metabolic
    Profile(
        "hypertension",
        ("I10", "I119"),
        ELDER,
        w_op=6,
        w_ip=2,
        w_rx=14,
        prevalence=(0.0, 0.0, 0.01, 0.05, 0.14, 0.24, 0.28),
        mt=True,
        drugs=("XC08CA", "XC09CA", "XC09DA", "XC07AB", "XC03AA", "XC10AA", "XB01AC", "ZZA12E"),
        labs=(CREA, UA, ELEC, TC, TG, LDL, GLU),
        exams=(ECG, ABPM, ECHO, US, FUNDUS),
        los=7,
    ),
    Profile(
        "diabetes",
        ("E119", "E114", "E112"),
        ELDER,
        w_op=4,
        w_ip=3,
        w_rx=10,
        prevalence=(0.0, 0.0, 0.004, 0.02, 0.07, 0.11, 0.11),
        mt=True,
        drugs=(
            "XA10BA",
            "XA10BB",
            "XA10BF",
            "XA10BH",
            "XA10BK",
            "XA10AE",
            "XA10AB",
            "XA10BJ",
            "XC10AA",
            "XB03BA",
        ),
        labs=(GLU, HBA1C, CREA, TC, TG, LDL, URINE),
        exams=(FUNDUS, US, ECG),
        materials=(M_STRIP, M_PEN),
        los=9,
    ),
    Profile(
        "chd",
        ("I251", "I209", "I219", "I200"),
        ELDER,
        w_op=2,
        w_ip=9,
        w_rx=4,
        prevalence=(0.0, 0.0, 0.0, 0.005, 0.02, 0.05, 0.08),
        mt=True,
        drugs=("XB01AC", "XC10AA", "XC07AB", "XC01DA", "XC09CA", "XA02BC", "XB01AB", "ZZA12E", "XC01EB"),
        labs=(TNI, BNP, CBC, TC, LDL, CREA, PT, APTT, DDIMER, ELEC),
        exams=(ECG, ECHO, HOLTER, CAG, DR),
        services=(ECGMON, INFUSION, OXY),
        surgeries=(
            Surgery(
                ("3607", "0066", "8856"), ("003203000020000",), (M_DES, M_BALLOON), general=False, min_level=3
            ),
        ),
        p_surg=0.35,
        los=8,
        intensity=1.2,
    ),
    Profile(
        "heart_failure",
        ("I509", "I500", "I110"),
        (0.0, 0.0, 0.0, 0.2, 0.6, 2.0, 4.0),
        w_op=0.5,
        w_ip=4,
        prevalence=(0.0, 0.0, 0.0, 0.001, 0.004, 0.012, 0.03),
        mt=True,
        drugs=("XC03CA", "XC03DA", "XC09DX", "XC07AB", "XC01AA", "XB01AC", "ZZA09AA", "XB05", "XA10BK"),
        labs=(BNP, TNI, CBC, CREA, ELEC, ALB, BGA),
        exams=(ECHO, ECG, DR),
        services=(ECGMON, OXY, INFUSION),
        los=10,
        intensity=1.1,
    ),
    Profile(
        "arrhythmia",
        ("I480", "I495", "I471"),
        ELDER,
        w_op=1,
        w_ip=2,
        drugs=("XC01BD", "XC07AB", "XB01AF", "XB01AA", "ZZA12E"),
        labs=(TSH, ELEC, PT, BNP),
        exams=(ECG, HOLTER, ECHO),
        services=(ECGMON,),
        surgeries=(Surgery(("3783", "3772"), ("003206000010000",), (M_PACER,), general=False, min_level=3),),
        p_surg=0.25,
        los=8,
    ),
    Profile(
        "stroke",
        ("I639", "I634", "I619"),
        ELDER,
        w_op=1,
        w_ip=8,
        w_rx=1,
        prevalence=(0.0, 0.0, 0.0, 0.002, 0.01, 0.03, 0.05),
        mt=True,
        drugs=("XN07XX", "XB01AC", "XC10AA", "ZZA12G", "ZZA12E", "XB05BC", "ZZA14AA", "XB01AD", "XA02BC"),
        labs=(CBC, PT, APTT, DDIMER, GLU, TC, LDL, CREA, ELEC),
        exams=(CT, MRI, US, ECG, ECHO),
        services=(REHAB, ACU, INFUSION, ECGMON, OXY),
        los=12,
        intensity=1.2,
    ),
    Profile(
        "hyperlipidaemia",
        ("E785", "E780"),
        MID,
        w_op=1.5,
        w_rx=3,
        drugs=("XC10AA", "XC10AX", "ZZA12E"),
        labs=(TC, TG, LDL, ALT),
    ),
    Profile(
        "gout",
        ("M109", "E790"),
        MID,
        sex=None,
        w_op=1,
        w_rx=1.5,
        drugs=("XM04AA", "XM04AC", "XM01AB", "XM01AH"),
        labs=(UA, CREA),
    ),
    Profile(
        "thyroid",
        ("E039", "E059", "E041"),
        MID,
        w_op=1,
        w_ip=0.6,
        w_rx=1,
        drugs=("XH03AA", "XH03BB"),
        labs=(TSH, FT4),
        exams=(US,),
        surgeries=(Surgery(("0639",), ("003303000010000",), (M_SUTURE,)),),
        p_surg=0.9,
        los=6,
    ),
    # ---------------------------------------------------------------- digestive and surgical
    Profile(
        "gastritis",
        ("K297", "K210", "K259", "K30"),
        ADULT,
        w_op=6,
        w_ip=2,
        w_rx=5,
        drugs=("XA02BC", "XA02AD", "XA03FA", "XA07FA", "ZZA06", "ZZA07", "T"),
        labs=(CBC, STOOL),
        exams=(GASTRO, US),
        services=(INFUSION,),
        los=6,
    ),
    Profile(
        "enteritis",
        ("A09", "K529"),
        CHILD,
        w_op=4,
        w_ip=1.5,
        w_rx=1.5,
        drugs=("XA07BC", "XA07FA", "XB05BB", "XJ01MA", "XA03FA"),
        labs=(CBC, STOOL, ELEC),
        services=(INFUSION, SCALP),
        los=4,
    ),
    Profile(
        "appendicitis",
        ("K358", "K359"),
        YOUNG,
        w_ip=3,
        drugs=("XJ01DD", "XJ01XD", "XB05", "XM01AH", "XA02BC"),
        labs=(CBC, CRP, URINE, PT, APTT, HBSAG),
        exams=(US, CT),
        surgeries=(
            Surgery(("4709",), ("003310030010000",), (M_SUTURE,)),
            Surgery(("4701",), ("003310030020000",), (M_TROCAR, M_SUTURE)),
        ),
        p_surg=0.9,
        los=6,
    ),
    Profile(
        "gallstones",
        ("K802", "K810", "K801"),
        MID,
        w_ip=3.5,
        drugs=("XJ01DD", "XJ01XD", "XB05", "XA02BC", "XM01AH"),
        labs=(CBC, ALT, AST, TBIL, PT, APTT, HBSAG),
        exams=(US, CT),
        surgeries=(Surgery(("5123",), ("003310050010000",), (M_TROCAR, M_SUTURE)),),
        p_surg=0.8,
        los=7,
    ),
    Profile(
        "hernia",
        ("K409",),
        (0.5, 0.3, 0.3, 0.6, 1.0, 1.5, 1.5),
        sex="M",
        w_ip=2,
        drugs=("XJ01DC", "XB05", "XM01AH"),
        labs=(CBC, PT, APTT, HBSAG),
        exams=(US,),
        surgeries=(Surgery(("5305",), ("003310080010000",), (M_MESH, M_SUTURE)),),
        p_surg=0.95,
        los=5,
    ),
    # ---------------------------------------------------------------- musculoskeletal and injury
    Profile(
        "back_pain",
        ("M545", "M512", "M479"),
        MID,
        w_op=6,
        w_rx=5,
        w_ip=1.5,
        drugs=("XM01AE", "XM01AB", "XM01AH", "XN02AX", "ZZA16AA", "ZZA12A", "T"),
        exams=(DR, CT, MRI),
        services=(ACU, MOXA, CUP, TUINA, REHAB),
        los=10,
        intensity=0.7,
    ),
    Profile(
        "osteoarthritis",
        ("M179", "M169", "M199"),
        ELDER,
        w_op=3,
        w_ip=2,
        w_rx=3,
        prevalence=(0.0, 0.0, 0.0, 0.005, 0.03, 0.06, 0.08),
        drugs=("XM01AH", "XM01AE", "XM01AB", "ZZA16AA", "ZZA12A", "XA12AX"),
        labs=(CBC, CRP, UA),
        exams=(DR, MRI),
        services=(ACU, REHAB, TUINA),
        surgeries=(
            Surgery(("8154",), ("003315090020000",), (M_KNEE, M_VSD)),
            Surgery(("8151",), ("003315090010000",), (M_HIP,)),
        ),
        p_surg=0.5,
        los=12,
    ),
    Profile(
        "fracture",
        ("S720", "S525", "S422", "S822"),
        (0.5, 1.0, 1.0, 1.0, 1.2, 1.5, 3.0),
        w_op=1.5,
        w_ip=5,
        drugs=("XM01AH", "XM01AE", "XB01AB", "XJ01DC", "XB05", "XA12AX"),
        labs=(CBC, PT, APTT, DDIMER, HBSAG),
        exams=(DR, CT),
        services=(DRESS, REHAB),
        surgeries=(
            Surgery(("7935",), (), (M_PLATE, M_SCREW)),
            Surgery(("7932",), ("003316010010000",), (M_PLATE, M_SPLINT)),
            Surgery(("8152",), ("003315090010000",), (M_HIP,)),
        ),
        p_surg=0.7,
        los=11,
    ),
    Profile(
        "injury",
        ("S610", "S019", "T140"),
        YOUNG,
        w_op=3,
        drugs=("XD06AX", "XM01AE", "XJ01CA"),
        services=(DRESS, "003316010010000"),
        exams=(DR,),
    ),
    Profile(
        "osteoporosis",
        ("M819", "M810"),
        ELDER,
        sex="F",
        w_op=1,
        w_rx=2,
        drugs=("XM05BA", "XA11CC", "XA12AX", "ZZA16AA"),
        exams=(DXA,),
        labs=(ALB,),
    ),
    # ---------------------------------------------------------------- eye, kidney, cancer
    Profile(
        "cataract",
        ("H259", "H251", "H269"),
        (0.0, 0.0, 0.0, 0.1, 0.6, 3.0, 4.0),
        w_op=1,
        w_ip=4,
        drugs=("XS01AA", "XS01XA"),
        labs=(CBC, GLU, PT, HBSAG),
        exams=(FUNDUS, US, ECG),
        surgeries=(Surgery(("1341", "1371"), ("003304040010000",), (M_IOL,), general=False),),
        p_surg=1.0,
        los=3,
    ),
    Profile(
        "ckd",
        ("N185", "N184", "N189"),
        ELDER,
        w_op=0.5,
        w_ip=2,
        prevalence=(0.0, 0.0, 0.0005, 0.001, 0.002, 0.004, 0.005),
        mt=True,
        drugs=("XB03XA", "XB03AC", "ZZA10AA", "ZZA09GA", "XA11CC", "XC08CA", "XA10BK"),
        labs=(CREA, UREA, ELEC, CBC, ALB, UA),
        exams=(US, ECHO),
        services=(DIALYSIS,),
        materials=(M_DIALYSER,),
        los=10,
    ),
    Profile(
        "cancer_lung",
        ("C349", "C341"),
        ELDER,
        w_ip=3,
        prevalence=(0.0, 0.0, 0.0, 0.0005, 0.002, 0.005, 0.006),
        mt=True,
        drugs=("XL01CD", "XL01EB", "XL01BC", "XA04AA", "XH02AB", "XB05", "XL03AX"),
        labs=(CBC, ALT, CREA, CEA, EGFR),
        exams=(CT, CT_ENH, PET, MRI),
        services=(IMRT, INFUSION, "001204000050000"),
        los=9,
        intensity=1.6,
        ip_procedure="9925",
    ),
    Profile(
        "cancer_gi",
        ("C169", "C189", "C20"),
        ELDER,
        w_ip=2.5,
        prevalence=(0.0, 0.0, 0.0, 0.0005, 0.002, 0.004, 0.005),
        mt=True,
        drugs=("XL01BC", "XL01CD", "XA04AA", "XB05", "XA02BC", "XL01FD"),
        labs=(CBC, ALT, CREA, CEA, ALB),
        exams=(CT_ENH, GASTRO, COLONO),
        services=(INFUSION, "001204000050000"),
        surgeries=(Surgery(("4573",), (), (M_STAPLER, M_TROCAR), min_level=3),),
        p_surg=0.3,
        los=12,
        intensity=1.5,
        ip_procedure="9925",
    ),
    Profile(
        "cancer_breast",
        ("C509",),
        MID,
        sex="F",
        w_ip=2,
        prevalence=(0.0, 0.0, 0.0, 0.001, 0.003, 0.004, 0.003),
        mt=True,
        drugs=("XL01FD", "XL01CD", "XL01BC", "XA04AA", "XB05", "XH02AB"),
        labs=(CBC, ALT, CREA, CEA),
        exams=(MAMMO, US, CT),
        services=(IMRT, INFUSION),
        los=8,
        intensity=1.6,
        ip_procedure="9925",
    ),
    Profile(
        "hepatitis_b",
        ("B181", "B180"),
        MID,
        w_op=1,
        w_rx=1,
        prevalence=(0.0, 0.0, 0.005, 0.01, 0.01, 0.008, 0.005),
        mt=True,
        drugs=("XJ05AF",),
        labs=(HBSAG, ALT, AST, TBIL),
        exams=(US,),
    ),
    # ---------------------------------------------------------------- sex-specific
    Profile(
        "delivery",
        ("O800", "O820", "O342"),
        REPRO,
        sex="F",
        min_age=18,
        max_age=45,
        w_ip=6,
        drugs=("XH01BB", "XJ01DC", "XB05", "XB02AA", "XM01AE"),
        labs=(CBC, URINE, PT, APTT, HBSAG, HCG),
        exams=(US,),
        services=(INFUSION, CATH),
        surgeries=(Surgery(("741",), ("003312040010000",), (M_SUTURE, M_CATHKIT)),),
        p_surg=0.4,
        los=4,
    ),
    Profile(
        "gyn",
        ("N760", "N771", "N939", "N951"),
        (0.0, 0.0, 1.0, 1.0, 1.0, 0.5, 0.3),
        sex="F",
        min_age=15,
        w_op=3,
        w_rx=1,
        drugs=("XG03DA", "XG03CA", "XJ01XD", "ZZA11"),
        labs=(VAG, HCG, URINE),
        exams=(GYN, TVUS, TCT),
    ),
    Profile(
        "fibroids",
        ("D259",),
        (0.0, 0.0, 0.3, 1.0, 1.0, 0.1, 0.0),
        sex="F",
        min_age=20,
        w_op=0.6,
        w_ip=1.5,
        drugs=("ZZA11AA", "XG03DA", "XB05", "XJ01DC"),
        labs=(CBC, HCG, PT, APTT, HBSAG),
        exams=(TVUS, US),
        surgeries=(
            Surgery(("6829",), ("003312030020000",), (M_TROCAR, M_SUTURE)),
            Surgery(("6849",), ("003312030010000",), (M_SUTURE,)),
        ),
        p_surg=0.9,
        los=6,
    ),
    Profile(
        "bph",
        ("N40",),
        (0.0, 0.0, 0.0, 0.0, 0.6, 2.0, 3.0),
        sex="M",
        min_age=45,
        w_op=1.5,
        w_ip=1.2,
        w_rx=2,
        prevalence=(0.0, 0.0, 0.0, 0.0, 0.02, 0.08, 0.12),
        drugs=("XG04CB", "XG04CA", "ZZA10B"),
        labs=(PSA, URINE, CREA),
        exams=(TRUS, US),
        surgeries=(Surgery(("6029",), ("003311010010000",), (M_CATHKIT,)),),
        p_surg=0.8,
        los=7,
    ),
    Profile(
        "prostate_cancer",
        ("C61",),
        (0.0, 0.0, 0.0, 0.0, 0.2, 1.5, 3.0),
        sex="M",
        min_age=50,
        w_ip=0.5,
        drugs=("XL02BB", "XG04CA", "XB05"),
        labs=(PSA, CBC, CREA),
        exams=(TRUS, MRI, CT),
        los=8,
        ip_procedure="9925",
    ),
    # ---------------------------------------------------------------- other
    Profile(
        "mental",
        ("F329", "F419", "G470"),
        ADULT,
        w_op=2,
        w_rx=2,
        drugs=("XN06AB", "XN05BA", "XN05CD", "XN05CF", "XN05AH", "ZZA08", "T"),
        exams=(EEG,),
    ),
    Profile(
        "dementia",
        ("F009", "G309"),
        (0.0, 0.0, 0.0, 0.0, 0.1, 1.0, 4.0),
        w_op=0.3,
        w_rx=0.5,
        drugs=("XN06DA", "XN05AH"),
        exams=(CT, MRI),
    ),
    Profile("epilepsy", ("G409",), ALL, w_op=0.4, drugs=("XN03AG", "XN03AX"), exams=(EEG,), labs=(ALT,)),
    Profile(
        "skin", ("L309", "L500", "B351"), ALL, w_op=3, w_rx=2, drugs=("XD06AX", "XR06AX", "XJ02AC", "XH02AB")
    ),
    Profile("eye_minor", ("H101", "H041", "H161"), ALL, w_op=1.5, w_rx=1.5, drugs=("XS01AA", "XS01XA")),
    Profile(
        "uti",
        ("N390", "N300"),
        ADULT,
        w_op=1.5,
        w_ip=0.8,
        drugs=("XJ01MA", "XJ01DC", "ZZA10"),
        labs=(URINE, CULT, SENS, CBC),
        exams=(US,),
        los=6,
    ),
    Profile(
        "neonatal",
        ("P599", "P073"),
        INFANT,
        max_age=0,
        w_ip=3,
        drugs=("XB05BA", "XA11GA", "XB02BA"),
        labs=(CBC, TBIL, "002504020010000"),
        exams=(US, HEARING),
        services=(SCALP,),
        los=6,
    ),
    Profile(
        "checkup",
        ("Z000", "Z001"),
        ADULT,
        w_op=2,
        labs=(CBC, URINE, ALT, CREA, GLU, TC, TG),
        exams=(ECG, US, DR),
    ),
)

PROFILE_INDEX = {p.key: i for i, p in enumerate(PROFILES)}

# comorbid secondary diagnoses added to older patients (ICD-10 without dots)
COMORBID = ("I10", "E119", "E785", "I251", "K297", "M179", "N40", "J449", "E039", "M819")


@dataclass(frozen=True)
class InstitutionMix:
    """How many institutions of each (kind, level rank) per million insured, with floors for small regions."""

    per_million: dict[tuple[str, int], float] = field(
        default_factory=lambda: {
            ("hospital", 4): 0.6,
            ("hospital", 3): 4.0,
            ("hospital", 2): 16.0,
            ("hospital", 1): 25.0,
            ("primary", 1): 220.0,
            ("pharmacy", 1): 300.0,
            ("internet", 3): 1.0,
        }
    )
    floor: dict[tuple[str, int], int] = field(
        default_factory=lambda: {
            ("hospital", 4): 1,
            ("hospital", 3): 2,
            ("hospital", 2): 3,
            ("hospital", 1): 3,
            ("primary", 1): 8,
            ("pharmacy", 1): 10,
            ("internet", 3): 1,
        }
    )


DISTRICTS: dict[str, tuple[tuple[str, float], ...]] = {
    # 西安市 (2020 census population, 万, rounded)
    "610100": (
        ("新城区", 60),
        ("碑林区", 76),
        ("莲湖区", 100),
        ("灞桥区", 76),
        ("未央区", 163),
        ("雁塔区", 145),
        ("阎良区", 28),
        ("临潼区", 66),
        ("长安区", 139),
        ("高陵区", 45),
        ("鄠邑区", 56),
        ("蓝田县", 51),
        ("周至县", 56),
    ),
    # 渭南市
    "610500": (
        ("临渭区", 88),
        ("华州区", 31),
        ("潼关县", 14),
        ("大荔县", 56),
        ("合阳县", 35),
        ("澄城县", 32),
        ("蒲城县", 60),
        ("白水县", 23),
        ("富平县", 64),
        ("韩城市", 38),
        ("华阴市", 22),
    ),
}


# Where each district is, for the institution registry's addresses and coordinates (定点医药机构查询 publishes
# both).  A bureau loads the real list — name, level, address — from the 国家医保服务平台 "定点医药机构查询"
# (or its own 定点协议 register) and geocodes the addresses; the generator has no such list, so it places each
# synthetic institution at a plausible point of its real district: (latitude, longitude) of the district's
# government seat (WGS-84, approximate, read off a map to about 0.01°), the radius (km) around it that stays
# inside the district, and a few real street names of the district for the synthetic street address.
CITY_NAMES = {"610100": "陕西省西安市", "610500": "陕西省渭南市"}
DISTRICT_PLACES: dict[str, dict[str, tuple[float, float, float, tuple[str, ...]]]] = {
    "610100": {
        "新城区": (34.267, 108.960, 2.0, ("解放路", "东五路", "长乐西路", "韩森路", "西一路", "幸福北路")),
        "碑林区": (34.254, 108.944, 1.6, ("友谊西路", "南大街", "东关正街", "建设路", "长安北路", "和平路")),
        "莲湖区": (34.266, 108.922, 2.0, ("莲湖路", "北关正街", "劳动路", "桃园路", "西关正街", "丰镐东路")),
        "灞桥区": (
            34.273,
            109.064,
            4.0,
            ("纺织城正街", "灞桥街", "长乐东路", "浐河东路", "席王街", "纺渭路"),
        ),
        "未央区": (34.332, 108.947, 4.0, ("凤城八路", "未央路", "太华北路", "文景路", "明光路", "朱宏路")),
        "雁塔区": (
            34.214,
            108.940,
            3.5,
            ("小寨东路", "长安南路", "雁塔北路", "科技路", "高新路", "电子二路"),
        ),
        "阎良区": (34.662, 109.226, 3.0, ("人民路", "前进路", "公园路", "北屯街", "振兴路")),
        "临潼区": (34.367, 109.214, 3.5, ("人民北路", "文化路", "骊山路", "芷阳一路", "华清路")),
        "长安区": (
            34.158,
            108.907,
            5.0,
            ("西长安街", "韦曲南街", "文苑南路", "子午大道", "雷甘路", "樱花二路"),
        ),
        "高陵区": (34.535, 109.088, 3.0, ("泾渭路", "鹿苑大道", "东风路", "南环路", "文化路")),
        "鄠邑区": (34.109, 108.605, 3.0, ("人民路", "甘亭街", "东街", "画展街", "娄敬路")),
        "蓝田县": (34.151, 109.323, 3.0, ("北关街", "向阳路", "蓝关镇正街", "玉山路", "公园路")),
        "周至县": (34.164, 108.222, 3.0, ("二曲街", "云塔路", "中心街", "东大街", "南大街")),
    },
    "610500": {
        "临渭区": (34.499, 109.493, 4.0, ("朝阳大街", "东风大街", "乐天大街", "胜利大街", "杜桥路")),
        "华州区": (34.513, 109.772, 3.0, ("建设路", "华州大街", "少华路", "东关街")),
        "潼关县": (34.544, 110.246, 2.5, ("金陵路", "东大街", "港口大道")),
        "大荔县": (34.795, 109.942, 3.0, ("东府路", "朝邑路", "城关大街", "丰图路")),
        "合阳县": (35.237, 110.149, 2.5, ("莘都路", "凤凰路", "东大街")),
        "澄城县": (35.190, 109.933, 2.5, ("新华街", "古徵街", "文化街")),
        "蒲城县": (34.956, 109.590, 3.0, ("正街", "文化路", "尧山路", "槐院路")),
        "白水县": (35.177, 109.595, 2.5, ("仓颉路", "彭衙路", "东大街")),
        "富平县": (34.751, 109.180, 3.0, ("窦村路", "东华街", "莲湖路", "温泉路")),
        "韩城市": (35.476, 110.442, 3.0, ("太史大街", "金塔路", "新城大街", "龙门大街")),
        "华阴市": (34.566, 110.092, 2.5, ("岳庙街", "太华路", "玉泉路")),
    },
}
