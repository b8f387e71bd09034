//! Name pools of the `large` scenario, most common first, and a skewed pick from them: a few
//! names are very common and many are rare, as in a real workforce, so that a 100,000-person
//! tenant holds many people with the same display name.

use crate::sim::rng::SeedRng;

/// Given names, most common first.
pub(crate) const FIRST: [&str; 159] = [
    "James", "Maria", "John", "Anna", "Robert", "Sarah", "Michael", "Laura", "David", "Emma",
    "William", "Olivia", "Daniel", "Sofia", "Thomas", "Julia", "Carlos", "Elena", "Ahmed",
    "Fatima", "Wei", "Mei", "Raj", "Priya", "Juan", "Ana", "Peter", "Lisa", "Mark", "Karen",
    "Paul", "Nina", "Ali", "Aisha", "Luca", "Chiara", "Jan", "Eva", "Kenji", "Yuki", "Ivan",
    "Olga", "Pierre", "Claire", "Hans", "Greta", "Lars", "Ingrid", "Diego", "Lucia", "Omar",
    "Leila", "Chen", "Lin", "Arjun", "Divya", "Samuel", "Grace", "Joseph", "Rachel", "Andrew",
    "Jessica", "Kevin", "Emily", "Brian", "Hannah", "Steven", "Rebecca", "Eric", "Amanda",
    "Marco", "Giulia", "Pedro", "Camila", "Mateo", "Valentina", "Noah", "Chloe", "Liam", "Zoe",
    "Ethan", "Mia", "Lucas", "Amelia", "Hugo", "Ines", "Felix", "Clara", "Oscar", "Alice",
    "Victor", "Irene", "Tomas", "Petra", "Nikolai", "Tatiana", "Sven", "Astrid", "Kwame",
    "Amara", "Tunde", "Ngozi", "Hiroshi", "Sakura", "Min", "Jia", "Sanjay", "Anjali", "Farid",
    "Yasmin", "Mehmet", "Elif", "Bruno", "Beatriz", "Rafael", "Isabel", "Stefan", "Katarina",
    "Milan", "Jana", "Arnav", "Kavya", "Tariq", "Zainab", "Emil", "Freya", "Axel", "Linnea",
    "Dmitri", "Svetlana", "Goran", "Mirela", "Aron", "Noemi", "Caleb", "Leah", "Isaac", "Naomi",
    "Gabriel", "Alba", "Adrian", "Bianca", "Colin", "Fiona", "Declan", "Siobhan", "Rhys",
    "Carys", "Malik", "Imani", "Tobias", "Lena", "Quentin", "Margaux", "Yusuf", "Selin",
    "Bogdan", "Oana", "Aurelio",
];

/// Family names, most common first.
pub(crate) const LAST: [&str; 204] = [
    "Smith", "Garcia", "Wang", "Kumar", "Muller", "Rossi", "Johnson", "Martin", "Lee", "Silva",
    "Brown", "Lopez", "Nguyen", "Patel", "Schmidt", "Dubois", "Williams", "Gonzalez", "Chen",
    "Singh", "Fischer", "Bernard", "Jones", "Rodriguez", "Li", "Shah", "Weber", "Moreau",
    "Miller", "Hernandez", "Zhang", "Khan", "Meyer", "Laurent", "Davis", "Perez", "Liu", "Ali",
    "Wagner", "Simon", "Wilson", "Sanchez", "Yang", "Hassan", "Becker", "Michel", "Taylor",
    "Ramirez", "Huang", "Ahmed", "Schulz", "Lefebvre", "Anderson", "Torres", "Zhao", "Ibrahim",
    "Hoffmann", "Leroy", "Thomas", "Flores", "Wu", "Mohamed", "Koch", "Roux", "Moore",
    "Rivera", "Zhou", "Yilmaz", "Richter", "Fontaine", "Jackson", "Gomez", "Xu", "Kaya",
    "Klein", "Girard", "White", "Diaz", "Sun", "Demir", "Wolf", "Bonnet", "Harris", "Reyes",
    "Ma", "Sahin", "Neumann", "Dupont", "Clark", "Morales", "Zhu", "Celik", "Schwarz",
    "Lambert", "Lewis", "Ortiz", "Hu", "Yildiz", "Zimmermann", "Fournier", "Walker", "Cruz",
    "Guo", "Aydin", "Braun", "Mercier", "Hall", "Castro", "He", "Ozturk", "Kruger", "Blanc",
    "Young", "Romero", "Gao", "Arslan", "Hartmann", "Guerin", "King", "Alvarez", "Lin",
    "Dogan", "Lange", "Boyer", "Wright", "Ruiz", "Luo", "Kilic", "Werner", "Garnier", "Scott",
    "Jimenez", "Zheng", "Ozdemir", "Krause", "Chevalier", "Green", "Moreno", "Tang", "Sato",
    "Meier", "Francois", "Baker", "Munoz", "Han", "Suzuki", "Lehmann", "Legrand", "Adams",
    "Romano", "Feng", "Takahashi", "Kohler", "Gauthier", "Nelson", "Colombo", "Cao", "Tanaka",
    "Bauer", "Perrin", "Hill", "Ricci", "Deng", "Watanabe", "Franke", "Robin", "Campbell",
    "Marino", "Xie", "Ito", "Albrecht", "Clement", "Mitchell", "Greco", "Song", "Yamamoto",
    "Schuster", "Morin", "Roberts", "Bruno", "Jiang", "Nakamura", "Vogel", "Nicolas", "Carter",
    "Gallo", "Peng", "Kobayashi", "Stein", "Henry", "Phillips", "Conti", "Lu", "Kato",
    "Jager", "Rousseau", "Evans", "Costa", "Fan", "Yoshida", "Otto", "Mathieu", "Turner",
    "Rinaldi",
];

/// Picks from a list ordered by frequency with a Zipf-like skew (weight 1/√rank): the most
/// common name is about 25 times as frequent as the rarest.
pub(crate) struct Skewed {
    cumulative: Vec<f64>,
}

impl Skewed {
    pub fn new(n: usize) -> Self {
        let mut total = 0.0;
        let cumulative = (1..=n)
            .map(|rank| {
                total += 1.0 / (rank as f64).sqrt();
                total
            })
            .collect();
        Self { cumulative }
    }

    pub fn pick(&self, rng: &mut SeedRng) -> usize {
        let total = self.cumulative.last().copied().unwrap_or(0.0);
        let x = (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64 * total;
        self.cumulative
            .partition_point(|c| *c < x)
            .min(self.cumulative.len().saturating_sub(1))
    }
}
