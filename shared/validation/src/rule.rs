//! The validation rules by id, each with its family: declared once.

use serde::Serialize;

/// A family of rules. A migration holds back items with errors of the `price`, `duplicate`
/// and `schema` families; `barcode` findings are warnings and never hold an item back.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Family {
    /// Prices: missing, negative, zero, unit errors, outliers, below cost.
    Price,
    /// The same SKU, name or id twice.
    Duplicate,
    /// Barcodes that will not scan: check digits, spreadsheet damage (scientific notation,
    /// lost leading zeros), lengths, the same code on two items.
    Barcode,
    /// Modifier groups and their options.
    Modifier,
    /// Fields a sellable item should have.
    Completeness,
    /// Lines that are not valid items, values out of range.
    Schema,
}

impl Family {
    /// The family's name, the part of a rule id before the dot.
    pub fn as_str(self) -> &'static str {
        match self {
            Family::Price => "price",
            Family::Duplicate => "duplicate",
            Family::Barcode => "barcode",
            Family::Modifier => "modifier",
            Family::Completeness => "completeness",
            Family::Schema => "schema",
        }
    }
}

impl PartialEq<&str> for Family {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

macro_rules! rules {
    ($( $variant:ident = ($family:ident, $id:literal), )*) => {
        /// A validation rule. Serialized as its stable id `family.rule` (e.g.
        /// `price.unit_error`); ordered by that id.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum Rule {
            $( #[doc = concat!("`", $id, "`")] $variant, )*
        }

        impl Rule {
            /// Every rule.
            pub const ALL: [Rule; [$(Rule::$variant),*].len()] = [$(Rule::$variant),*];

            /// The stable id, `family.rule`.
            pub fn as_str(self) -> &'static str {
                match self {
                    $( Rule::$variant => $id, )*
                }
            }

            /// The rule's family.
            pub fn family(self) -> Family {
                match self {
                    $( Rule::$variant => Family::$family, )*
                }
            }
        }
    };
}

rules! {
    BarcodeCheckDigit = (Barcode, "barcode.check_digit"),
    BarcodeDuplicate = (Barcode, "barcode.duplicate"),
    BarcodeLeadingZero = (Barcode, "barcode.leading_zero"),
    BarcodeLength = (Barcode, "barcode.length"),
    BarcodeScientificNotation = (Barcode, "barcode.scientific_notation"),
    CompletenessCategory = (Completeness, "completeness.category"),
    CompletenessCurrency = (Completeness, "completeness.currency"),
    CompletenessIdentifier = (Completeness, "completeness.identifier"),
    CompletenessName = (Completeness, "completeness.name"),
    DuplicateExternalId = (Duplicate, "duplicate.external_id"),
    DuplicateName = (Duplicate, "duplicate.name"),
    DuplicateSku = (Duplicate, "duplicate.sku"),
    ModifierDuplicateGroup = (Modifier, "modifier.duplicate_group"),
    ModifierDuplicateOption = (Modifier, "modifier.duplicate_option"),
    ModifierMaxExceedsOptions = (Modifier, "modifier.max_exceeds_options"),
    ModifierMinGtMax = (Modifier, "modifier.min_gt_max"),
    ModifierMinUnreachable = (Modifier, "modifier.min_unreachable"),
    ModifierNoOptions = (Modifier, "modifier.no_options"),
    ModifierPriceDelta = (Modifier, "modifier.price_delta"),
    ModifierUnknownGroup = (Modifier, "modifier.unknown_group"),
    PriceBelowCost = (Price, "price.below_cost"),
    PriceMissing = (Price, "price.missing"),
    PriceNegative = (Price, "price.negative"),
    PriceNegativeCost = (Price, "price.negative_cost"),
    PriceOutlier = (Price, "price.outlier"),
    PriceUnitError = (Price, "price.unit_error"),
    PriceZero = (Price, "price.zero"),
    SchemaExternalId = (Schema, "schema.external_id"),
    SchemaInvalidItem = (Schema, "schema.invalid_item"),
    SchemaInvalidJson = (Schema, "schema.invalid_json"),
    SchemaInvalidModifierGroup = (Schema, "schema.invalid_modifier_group"),
    SchemaRange = (Schema, "schema.range"),
    SchemaTaxRate = (Schema, "schema.tax_rate"),
    SchemaUnknownField = (Schema, "schema.unknown_field"),
    SchemaUrl = (Schema, "schema.url"),
}

impl Rule {
    /// The rule with this id, if any.
    pub fn parse(id: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.as_str() == id)
    }
}

impl Ord for Rule {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.as_str().cmp(other.as_str())
    }
}

impl PartialOrd for Rule {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl std::fmt::Display for Rule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for Rule {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl PartialEq<str> for Rule {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for Rule {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}
