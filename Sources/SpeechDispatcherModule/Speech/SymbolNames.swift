/// The punctuation names of the languages sd_speakd speaks punctuation in (English, German, French, Spanish; any
/// other language falls back to English). German, French and Spanish use the words of speech-dispatcher's tables
/// for those languages, English the plain names (a neural voice needs no spelling tricks such as "graav").
///
/// Threading: immutable values; Sendable.
extension SymbolTable {
    public static let english = SymbolTable(language: "en", names: [
        "!": "exclamation mark", "\"": "quote", "#": "hash", "$": "dollar", "%": "percent", "&": "ampersand",
        "'": "apostrophe", "(": "left paren", ")": "right paren", "*": "star", "+": "plus", ",": "comma", "-": "dash",
        ".": "dot", "/": "slash", ":": "colon", ";": "semicolon", "<": "less than", "=": "equals", ">": "greater than",
        "?": "question mark", "@": "at", "[": "left bracket", "\\": "backslash", "]": "right bracket", "^": "caret",
        "_": "underscore", "`": "grave", "{": "left brace", "|": "bar", "}": "right brace", "~": "tilde",
        "£": "pound", "€": "euro", "¥": "yen", "¢": "cents", "§": "section", "°": "degrees", "•": "bullet",
        "…": "dot dot dot", "“": "left quote", "”": "right quote", "‘": "left apostrophe", "’": "right apostrophe",
        "–": "en dash", "—": "em dash", "«": "left angle quote", "»": "right angle quote",
        "¡": "inverted exclamation mark", "¿": "inverted question mark",
    ], minus: "minus", capital: "cap", space: "space", tab: "tab", newLine: "new line")

    static let german = SymbolTable(language: "de", names: [
        "!": "Ausrufezeichen", "\"": "Anführungszeichen", "#": "Nummernzeichen", "$": "Dollar", "%": "Prozent",
        "&": "und", "'": "Apostroph", "(": "Runde Klammer auf", ")": "Runde Klammer zu", "*": "Stern", "+": "plus",
        ",": "Komma", "-": "Strich", ".": "Punkt", "/": "Schrägstrich", ":": "Doppelpunkt", ";": "Semikolon",
        "<": "kleiner als", "=": "gleich", ">": "größer als", "?": "Fragezeichen", "@": "ät",
        "[": "Eckige Klammer auf", "\\": "Backslash", "]": "Eckige Klammer zu", "^": "Dach", "_": "Unterstrich",
        "`": "Gravis", "{": "Geschweifte Klammer auf", "|": "Senkrechter Strich", "}": "Geschweifte Klammer zu",
        "~": "Tilde", "£": "Pfund", "€": "Euro", "¥": "Yen", "¢": "Cent", "§": "Paragraf", "°": "Grad",
        "•": "Aufzählungszeichen", "…": "Punkt Punkt Punkt", "“": "Anführungszeichen links",
        "”": "Anführungszeichen rechts", "‘": "Apostroph links", "’": "Apostroph rechts", "–": "Bindestrich",
        "—": "Gedankenstrich", "«": "Doppelt gewinkelte Klammer auf", "»": "Doppelt gewinkelte Klammer zu",
    ], minus: "minus", capital: "groß", space: "Leerzeichen", tab: "Tabulator", newLine: "neue Zeile")

    static let french = SymbolTable(language: "fr", names: [
        "!": "point d'exclamation", "\"": "guillemet", "#": "dièse", "$": "dollar", "%": "pour cent",
        "&": "et commercial", "'": "apostrophe", "(": "parenthèse gauche", ")": "parenthèse droite", "*": "astérisque",
        "+": "plus", ",": "virgule", "-": "tiret", ".": "point", "/": "barre oblique", ":": "deux points",
        ";": "point virgule", "<": "inférieur", "=": "égal", ">": "supérieur", "?": "point d'interrogation",
        "@": "arobase", "[": "crochet gauche", "\\": "barre oblique inversée", "]": "crochet droit",
        "^": "accent circonflexe", "_": "souligné", "`": "accent grave", "{": "accolade gauche", "|": "barre verticale",
        "}": "accolade droite", "~": "tilde", "£": "livre", "€": "euro", "¥": "yen", "¢": "cent", "§": "section",
        "°": "degré", "•": "puce", "…": "points de suspension", "“": "double guillemet ouvrant",
        "”": "double guillemet fermant", "‘": "apostrophe gauche", "’": "apostrophe droite",
        "–": "tiret demi-cadratin", "—": "tiret cadratin", "«": "guillemet ouvrant", "»": "guillemet fermant",
    ], minus: "moins", capital: "majuscule", space: "espace", tab: "tabulation", newLine: "nouvelle ligne")

    static let spanish = SymbolTable(language: "es", names: [
        "!": "cerrar exclamación", "\"": "comillas", "#": "signo de número", "$": "dólares", "%": "por ciento",
        "&": "et", "'": "apóstrofo", "(": "abrir paréntesis", ")": "cerrar paréntesis", "*": "asterisco", "+": "más",
        ",": "coma", "-": "guion", ".": "punto", "/": "barra", ":": "dos puntos", ";": "punto y coma",
        "<": "menor que", "=": "igual", ">": "mayor que", "?": "cerrar interrogación", "@": "arroba",
        "[": "abrir corchete", "\\": "barra inversa", "]": "cerrar corchete", "^": "acento circunflejo",
        "_": "subrayado", "`": "acento grave", "{": "abrir llave", "|": "barra vertical", "}": "cerrar llave",
        "~": "tilde", "£": "libras", "€": "euros", "¥": "yenes", "¢": "centavos", "§": "sección", "°": "grados",
        "•": "viñeta", "…": "puntos suspensivos", "“": "abrir comillas", "”": "cerrar comillas",
        "‘": "abrir apóstrofo", "’": "cerrar apóstrofo", "–": "guion", "—": "raya", "«": "abrir comillas angulares",
        "»": "cerrar comillas angulares", "¡": "abrir exclamación", "¿": "abrir interrogación",
    ], minus: "menos", capital: "mayúscula", space: "espacio", tab: "tabulador", newLine: "nueva línea")
}
